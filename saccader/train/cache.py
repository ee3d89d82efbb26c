"""The keys of the cache of trained runs: where a run of a config lives and which code trained it.

A run is reused only when (1) its directory name carries the hash of the same resolved config
(:func:`run_dir_for`, :func:`planned_run`) and (2) it was trained by the same code
(:func:`code_version`: a hash of the source files that shape training: models, geometry, losses,
data, train). The engine records ``code_version`` in each run; :mod:`saccader.train.runs` finds a
finished run of a stage, or trains it (``get_trained``). This module imports nothing that
imports the engine.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from saccader.train.config import TrainConfig, config_hash

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# what the trained weights depend on (relative to the package)
CODE_PATHS = ("models", "geometry.py", "losses.py", "data", "train")
# files under those paths that do not change what is trained: the command lines, the run cache
# (cache.py, runs.py: which run is reused, not what it learns) and the presets (they enter through
# the config hash)
_CODE_EXCLUDE = {"data/cli.py", "models/cli.py", "train/cli.py", "train/cache.py", "train/runs.py",
                 "train/presets.py"}
# the data modules that only one family of data sets reads: a run on the generated clutter set does
# not depend on the ImageNet folder reader, nor the other way round (every other data module counts
# for both)
DATASET_FILES = {
    "clutter": {"data/synthetic.py", "data/parts.py", "data/digits.py", "data/drawing.py"},
    "imagenet": {"data/imagenet.py", "data/imagenette.py", "data/tf_resize.py", "data/subsets.py"},
}
DATASET_FAMILY = {"clutter": "clutter", "imagenet": "imagenet", "imagenette": "imagenet"}


def code_version(dataset: str | None = None) -> str:
    """Short hash of the package source files the training of a run on ``dataset`` depends on
    (``None``: every file, whatever the data set)."""
    family = DATASET_FAMILY.get(dataset) if dataset else None
    other = set().union(*(f for fam, f in DATASET_FILES.items() if fam != family)) if family else set()
    h = hashlib.sha256()
    for rel in CODE_PATHS:
        root = PACKAGE_DIR / rel
        files = [root] if root.is_file() else sorted(root.rglob("*.py")) if root.is_dir() else []
        for path in files:
            name = path.relative_to(PACKAGE_DIR).as_posix()
            if name in _CODE_EXCLUDE or name in other:
                continue
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def run_dir_for(cfg: TrainConfig, runs_root: str | Path) -> Path:
    """``<runs_root>/<preset>/<stage>-<hash>``. The hash sees the previous stage by its run's name
    (which holds that run's hash), not by its path, so moving the runs folder keeps the cache."""
    key = cfg.replace(init_from=Path(cfg.init_from).name if cfg.init_from else "")
    return Path(runs_root) / cfg.preset / f"{cfg.stage}-{config_hash(key, canonical_paths=False)[:10]}"


def chain_of(overrides: dict | None, chain_overrides: dict | None) -> dict:
    """The keys a stage passes to its prerequisites: ``chain_overrides``, and the stage's own
    ``data_dir`` (one data folder for the whole chain)."""
    chain = dict(chain_overrides or {})
    if (overrides or {}).get("data_dir"):
        chain.setdefault("data_dir", overrides["data_dir"])
    return chain


def planned_run(stage: str, preset: str = "tiny", overrides: dict | None = None, chain_overrides: dict | None = None,
                runs_root: str | Path | None = None) -> tuple[Path, TrainConfig]:
    """(run_dir, resolved config) of ``stage`` under ``preset``, computed without training: the
    config with ``overrides`` (this stage) and ``chain_overrides`` (this stage and every
    prerequisite), ``init_from`` chained to the prerequisite's planned run, ``run_dir`` set."""
    from saccader.train.presets import resolve_config
    from saccader.train.stages import required_stage

    from saccader import paths

    runs_root = Path(runs_root) if runs_root is not None else paths.runs_dir()
    chain = chain_of(overrides, chain_overrides)
    cfg = resolve_config(stage, preset, overrides={**chain, **(overrides or {})})
    need = required_stage(cfg)
    if need is not None:
        prev, _ = planned_run(need, preset, chain_overrides=chain, runs_root=runs_root)
        cfg = cfg.replace(init_from=str(prev))
    run_dir = run_dir_for(cfg, runs_root)
    return run_dir, cfg.replace(run_dir=str(run_dir))


__all__ = ["chain_of", "planned_run", "code_version", "run_dir_for"]
