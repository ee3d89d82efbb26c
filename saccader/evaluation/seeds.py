"""Training seeds: the Saccader chain (representation -> location -> policy, and the ablation
without location pretraining) and DRAM retrained with ``seed`` = 0 ... 4 and evaluated each, giving the
spread of a result over training runs; and how a locally computed table compares with the
committed one against that spread.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from saccader.evaluation.curves import RESULT_COLUMNS, resolve_device
from saccader.evaluation.methods import FULL_IMAGE_METHODS, METHODS, _method_curves, check_preset
from saccader.evaluation.results import LOCAL, at_glimpses, cached_table, read_results, results_key

TRAINING_SEEDS = (0, 1, 2, 3, 4)
SEED_COLUMNS = ["train_seed"] + RESULT_COLUMNS
# what the training-seed study retrains and evaluates: {method: policies}
SEED_METHODS = {"saccader": ("learned", "ordered_logits", "random"), "saccader_no_pretraining": ("learned",),
                "bagnet_full_image": ("all_cells",), "dram": ("learned",)}


def training_seed_curves(preset: str, train_seeds: Sequence[int] = TRAINING_SEEDS, seeds: Sequence[int] = (0,),
                         max_images: int | None = None, device: str = "cpu", data_dir: str | None = None,
                         methods: dict | None = None, max_glimpses: int = 12,
                         batch_size: int | None = None) -> pd.DataFrame:
    """Curves (``SEED_COLUMNS``) of ``methods`` ({method: policies}, default :data:`SEED_METHODS`),
    each retrained once per training seed (missing runs are trained now)."""
    check_preset(preset)
    frames = [df.assign(train_seed=int(s)) for s in train_seeds
              for df in _method_curves(preset, dict(methods or SEED_METHODS), seeds, max_images, device, data_dir,
                                       max_glimpses, batch_size, train_seed=s)]
    return pd.concat(frames, ignore_index=True)[SEED_COLUMNS]


def get_training_seeds(preset: str = "tiny", train_seeds: Sequence[int] = TRAINING_SEEDS,
                       seeds: Sequence[int] = (0,), max_images: int | None = None, device: str = "cpu",
                       data_dir: str | None = None, max_glimpses: int = 12, force: bool = False,
                       root: Path | None = None, batch_size: int | None = None, local_root: Path | None = None,
                       write: str = LOCAL, allow_dirty: bool = False) -> pd.DataFrame:
    """The training-seed table of ``preset`` (``data/results/<preset>/training_seeds.csv``): the
    methods of :data:`SEED_METHODS` retrained with each of ``train_seeds``, cached like
    :func:`get_results`. ``seeds``: evaluation seeds of the random policy."""
    check_preset(preset)
    train_seeds = [int(s) for s in train_seeds]
    if not train_seeds:
        raise ValueError("train_seeds is empty: give at least one training seed, e.g. (0, 1, 2)")
    settings = {"train_seeds": train_seeds, "seeds": [int(s) for s in seeds], "max_images": max_images,
                "max_glimpses": int(max_glimpses), "methods": {m: list(p) for m, p in SEED_METHODS.items()}}
    runs = {f"{m}@seed{s}": (METHODS[m].stage, METHODS[m].overrides, s) for s in train_seeds for m in SEED_METHODS}
    key = lambda: results_key(preset, runs, settings, data_dir, __name__)  # noqa: E731
    return cached_table(preset, "training_seeds", key, lambda: training_seed_curves(
        preset, train_seeds, seeds, max_images, device, data_dir, SEED_METHODS, max_glimpses, batch_size),
        force, root, resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def seed_spread(df: pd.DataFrame, glimpses: Sequence[int] = (1, 6, 12)) -> pd.DataFrame:
    """Per (method, policy, glimpses) of a training-seed table: top-1 / top-5 / coverage mean, sd
    (ddof 1), min and max over training seeds (each seed's value first averaged over evaluation
    seeds), and ``runs``, the number of training seeds. Full-image rows are kept whatever their
    glimpses."""
    full = df.method.isin(FULL_IMAGE_METHODS)
    sel = df[df.glimpses.isin(list(glimpses)) | full]
    per_run = (sel.groupby(["method", "policy", "glimpses", "train_seed"], sort=False)[["top1", "top5", "coverage"]]
               .mean().reset_index())
    g = per_run.groupby(["method", "policy", "glimpses"], sort=False)
    return g.agg(top1=("top1", "mean"), top1_sd=("top1", "std"), top1_min=("top1", "min"), top1_max=("top1", "max"),
                 top5=("top5", "mean"), top5_sd=("top5", "std"), coverage=("coverage", "mean"),
                 runs=("train_seed", "nunique")).reset_index()


def committed_comparison(df: pd.DataFrame, preset: str, glimpses: Sequence[int] = (1, 6, 12),
                         sd_factor: float = 2.0, root: Path | None = None) -> pd.DataFrame | None:
    """How a curves table computed from this machine's runs (``df.attrs["source"] == "local"``)
    compares with the committed one: top-1 (mean over evaluation seeds) of both at ``glimpses``,
    the difference, the sd over training runs of the committed training-seed study (where it
    covers the method) and whether the difference lies within ``sd_factor`` sd. None when ``df``
    is the committed table or no committed table exists."""
    if df.attrs.get("source") != LOCAL:
        return None
    try:
        committed, _ = read_results(preset, "curves", root)
    except FileNotFoundError:
        return None
    try:
        spread = seed_spread(read_results(preset, "training_seeds", root)[0], glimpses)
    except FileNotFoundError:
        spread = pd.DataFrame(columns=["method", "policy", "glimpses", "top1_sd"])
    rows = []
    for t in glimpses:
        ours = at_glimpses(df, t)[["method", "policy", "top1"]]
        theirs = at_glimpses(committed, t)[["method", "policy", "glimpses", "top1"]]
        both = theirs.merge(ours, on=["method", "policy"], suffixes=("_committed", "_local"), sort=False)
        both["at"] = t
        rows.append(both)
    out = pd.concat(rows, ignore_index=True)
    sd = spread.set_index(["method", "policy", "glimpses"])["top1_sd"]
    out["training_sd"] = [sd.get((m, p, g), float("nan")) for m, p, g in zip(out.method, out.policy, out.glimpses)]
    out["difference"] = out.top1_local - out.top1_committed
    out["verdict"] = [
        "no spread measured" if not sd_ == sd_ else
        (f"within {sd_factor:g} sd" if abs(d) <= sd_factor * sd_ else f"outside {sd_factor:g} sd")
        for d, sd_ in zip(out.difference, out.training_sd)]
    return out[["method", "policy", "at", "top1_committed", "top1_local", "difference", "training_sd", "verdict"]]
