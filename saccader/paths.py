"""Where things live: the repository, runs, results, figures and the cache.

Each location can be moved with an environment variable, so that the same notebooks run on a
laptop and on a cluster's scratch disk.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def runs_dir() -> Path:
    """Training runs (checkpoints, logs): ``$SACCADER_RUNS`` or ``<repo>/runs``."""
    return _env_path("SACCADER_RUNS", REPO_ROOT / "runs")


def results_dir(preset: str | None = None) -> Path:
    """Produced results kept in git: ``<repo>/data/results[/<preset>]``."""
    root = _env_path("SACCADER_RESULTS", REPO_ROOT / "data" / "results")
    return root / preset if preset else root


def local_results_dir(preset: str | None = None) -> Path:
    """Results computed from this machine's own runs when they differ from those behind the
    committed results (not kept in git): ``<runs>/results[/<preset>]``."""
    root = runs_dir() / "results"
    return root / preset if preset else root


def paper_dir() -> Path:
    """The paper's own numbers, each with its source: ``<repo>/data/paper``."""
    return REPO_ROOT / "data" / "paper"


def figures_dir() -> Path:
    """Generated figures (PNG and SVG): ``$SACCADER_FIGURES`` or ``<repo>/figures``."""
    return _env_path("SACCADER_FIGURES", REPO_ROOT / "figures")


def cache_dir() -> Path:
    """Generated data sets: ``$SACCADER_CACHE`` or ``~/.cache/saccader``."""
    return _env_path("SACCADER_CACHE", Path.home() / ".cache" / "saccader")


def book_dir() -> Path:
    return REPO_ROOT / "book"


def shown(path: str | Path) -> Path:
    """``path`` relative to the repository when it lies inside it (as commands run from its root
    and pages show it), else unchanged."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT)
    except ValueError:
        return Path(path)
