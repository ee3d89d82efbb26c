"""``python -m saccader evaluate``: the results of record, written to ``data/results/<preset>/``."""
from __future__ import annotations

import argparse
from typing import Sequence

import pandas as pd

import saccader.evaluation
from saccader.evaluation.methods import DEFAULT_SEEDS, METHODS, PRESETS, _chain
from saccader.evaluation.occlusion import get_occlusion
from saccader.evaluation.results import COMMITTED, OWN, at_glimpses, get_results
from saccader.evaluation.dram_study import DRAM_VARIANTS, get_dram_study, study_table, variant_overrides
from saccader.evaluation.seeds import SEED_METHODS, TRAINING_SEEDS, get_training_seeds, seed_spread
from saccader.train.presets import FOLDER_DATASETS, preset_dataset
from saccader.train.runs import train_together

WHAT = ("curves", "occlusion", "training_seeds", "dram_study")


def check_arguments(preset: str, what: Sequence[str], seeds: Sequence[int], max_images: int | None, device: str,
                    data_dir: str | None, max_glimpses: int, max_occluded: int, batch_size: int | None,
                    train_seeds: Sequence[int]) -> None:
    """The command line's arguments, checked before any model is trained or evaluated: a bad one
    raises ``ConfigError`` (one line, exit status 2)."""
    from saccader.train.config import ConfigError, check_device, check_min

    if preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r} is not a preset; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(what) - set(WHAT))
    if unknown:
        raise ConfigError(f"--what {' '.join(unknown)}: unknown; choose among {', '.join(WHAT)}")
    check_device(device, flag="--device")
    check_min("--max-images", max_images, 1, 1000)
    check_min("--max-glimpses", max_glimpses, 1, 12)
    check_min("--max-occluded", max_occluded, 0, 12)
    check_min("--batch-size", batch_size, 1, 128)
    for flag, values in (("--seeds", seeds), ("--train-seeds", train_seeds)):
        if not values:
            raise ConfigError(f"{flag}: give at least one seed, e.g. {flag} 0 1 2")
        for v in values:
            check_min(flag, v, 0, 0)
    dataset = preset_dataset(preset)
    if dataset in FOLDER_DATASETS:
        if not data_dir:
            raise ConfigError(f"preset {preset!r} reads the {dataset} folder: pass --data-dir "
                              f"{FOLDER_DATASETS[dataset]} (holding train/<wnid>/ and val/<wnid>/)")
        from saccader.data.imagenet import resolve_split_dir

        try:
            resolve_split_dir(data_dir, "val")
        except (OSError, ValueError) as err:
            raise ConfigError(f"--data-dir {data_dir}: {err}") from None


def runs_to_train(preset: str, what: Sequence[str], train_seeds: Sequence[int] = TRAINING_SEEDS,
                  data_dir: str | None = None) -> list[tuple[str, dict, dict]]:
    """[(stage, overrides, chain_overrides)] of every run the tables ``what`` read (their
    prerequisites come with them in ``runs.train_runs``)."""
    runs = []
    if "curves" in what or "occlusion" in what:
        runs += [(m.stage, m.overrides, _chain(data_dir)) for m in METHODS.values()]
    if "training_seeds" in what:
        runs += [(METHODS[m].stage, METHODS[m].overrides, _chain(data_dir, s)) for s in train_seeds for m in SEED_METHODS]
    if "dram_study" in what:
        runs += [("dram", variant_overrides(v, preset, data_dir), _chain(data_dir)) for v in DRAM_VARIANTS]
    return runs


def main(preset: str = "tiny", what: Sequence[str] = ("curves", "occlusion"), seeds: Sequence[int] = DEFAULT_SEEDS,
         max_images: int | None = None, device: str = "cpu", data_dir: str | None = None, max_glimpses: int = 12,
         max_occluded: int = 12, force: bool = False, batch_size: int | None = None,
         train_seeds: Sequence[int] = TRAINING_SEEDS, allow_dirty: bool = False, local: bool = False) -> int:
    """The command line: the results of record, written to ``data/results/<preset>/`` (from a
    clean tree unless ``allow_dirty``); ``local``: this machine's own results from its own runs,
    written to ``runs/results/<preset>/`` (the book shows them in place of the committed ones)."""
    check_arguments(preset, what, seeds, max_images, device, data_dir, max_glimpses, max_occluded, batch_size,
                    train_seeds)
    record = {"write": OWN if local else COMMITTED, "allow_dirty": allow_dirty}

    def missing_runs_together(table: str):
        """A table that is computed (not reused) first trains its missing runs side by side."""
        return train_together(preset, runs_to_train(preset, (table,), train_seeds, data_dir))

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        if "curves" in what:
            with missing_runs_together("curves"):
                df = get_results(preset, seeds, max_images, device, data_dir, max_glimpses, force=force,
                                 batch_size=batch_size, **record)
            print(at_glimpses(df, 6).round(3).to_string(index=False))
        if "occlusion" in what:
            with missing_runs_together("occlusion"):
                occ = get_occlusion(preset, seeds, max_images, device, data_dir, max_occluded, force=force,
                                    batch_size=batch_size, **record)
            table = occ.groupby(["classifier", "policy", "occluded"]).top1.mean().unstack("occluded")
            print(table.round(2).to_string())
        if "training_seeds" in what:
            with missing_runs_together("training_seeds"):
                ts = get_training_seeds(preset, train_seeds, seeds[:1], max_images, device, data_dir, max_glimpses,
                                        force=force, batch_size=batch_size, **record)
            print(seed_spread(ts, (1, 6, max_glimpses)).round(2).to_string(index=False))
        if "dram_study" in what:
            with missing_runs_together("dram_study"):
                study = get_dram_study(preset, seeds[:1], max_images, device, data_dir, max_glimpses, force=force,
                                       batch_size=batch_size, **record)
            print(study_table(study, min(6, max_glimpses)).round(3).to_string(index=False))
    return 0


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="accuracy against glimpses and coverage for every method, and the occlusion analysis",
        description=saccader.evaluation.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("--what", nargs="+", default=["curves", "occlusion"],
                   choices=list(WHAT),
                   help="training_seeds retrains the Saccader chain and DRAM once per --train-seeds, dram_study retrains "
                        "DRAM once per variant (neither by default)")
    p.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS),
                   help="seeds of the random policy (default: 0 1 2; training_seeds uses the first)")
    p.add_argument("--train-seeds", nargs="+", type=int, default=list(TRAINING_SEEDS),
                   help="training seeds of --what training_seeds (default: 0 1 2 3 4)")
    p.add_argument("--max-images", type=int, help="evaluate on the first N held-out images only")
    p.add_argument("--max-glimpses", type=int, default=12, help="curves for 1..N glimpses (default 12)")
    p.add_argument("--max-occluded", type=int, default=12, help="occlusion for 0..K glimpses (default 12)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    p.add_argument("--data-dir", help="the data folder of the imagenet (ILSVRC-2012 root) and imagenette presets")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--force", action="store_true", help="recompute even when the results files match")
    p.add_argument("--allow-dirty", action="store_true",
                   help="write results although saccader/ has uncommitted changes (their provenance says so)")
    p.add_argument("--local", action="store_true",
                   help="this machine's own results, from its own runs, written to runs/results/PRESET (not "
                        "data/results); the book then shows them instead of the committed ones")
    p.set_defaults(func=lambda a: main(a.preset, a.what, a.seeds, a.max_images, a.device, a.data_dir,
                                       a.max_glimpses, a.max_occluded, a.force, a.batch_size, a.train_seeds,
                                       a.allow_dirty, a.local))
