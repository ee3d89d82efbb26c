"""Where things live: the repository, runs, results, figures and the cache.

Each location can be moved with an environment variable, so that the same notebooks run on a
laptop and on a cluster's scratch disk.
"""
from __future__ import annotations

import os
import re
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


def on_page(path: str | Path) -> str:
    """``path`` as the book's pages write it, never as this machine's absolute path: relative to
    the repository when inside it (:func:`shown`); else under a location moved by its variable as
    ``$SACCADER_RUNS/...`` (also ``$SACCADER_RESULTS``, ``$SACCADER_FIGURES``, ``$SACCADER_CACHE``),
    which a shell expands when the text is pasted unquoted; else under the home folder as ``~/...``;
    else unchanged."""
    p = Path(path)
    try:
        resolved = p.expanduser().resolve()
    except (OSError, RuntimeError):
        return str(p)
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        pass
    for var, where in (("SACCADER_RUNS", runs_dir), ("SACCADER_RESULTS", results_dir),
                       ("SACCADER_FIGURES", figures_dir), ("SACCADER_CACHE", cache_dir)):
        if os.environ.get(var):
            try:
                return str(Path(f"${var}") / resolved.relative_to(where()))
            except ValueError:
                pass
    try:
        return str(Path("~") / resolved.relative_to(Path.home().resolve()))
    except ValueError:
        return str(p)


# an absolute path of at least two parts, not inside a URL or a relative path
_ABSOLUTE = re.compile(r"(?<![\w.:/~$])(/(?:[\w.+\-]+/)+[\w.+\-]*)")


def on_page_text(text: str) -> str:
    """Every absolute path in ``text`` written as :func:`on_page` writes it."""
    return _ABSOLUTE.sub(lambda m: on_page(m.group(1)), text)
