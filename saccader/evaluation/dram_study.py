"""Why DRAM learns or not at a preset: the DRAM stage retrained with one change at a time
(:data:`DRAM_VARIANTS`, each a set of config overrides), and each run evaluated on its own
held-out split with its learned policy and, with the same trained classifier, with uniformly
random and with centre locations. If the learned locations do no better than random ones, the
location policy has not learned; if random locations do no better than chance, the classifier
has not learned either.

The variants are fixed in advance, not chosen by their outcome. ``official`` is the preset's DRAM;
``short_schedule`` the same with a quarter of its epochs (4 at the tiny preset, its former setting).
Every other variant changes one thing of ``short_schedule``, so that the study fits a CPU budget
(at the preset's 16 epochs each would cost 6.5 minutes on 2 cores instead of 2.3): ``no_clutter``,
``fixed_position``, ``cluttered_digits`` and ``centred_digits`` are sanity cases, tasks DRAM must
solve: the object alone on the background; the object at the same place in every image; the
cluttered digits of the RAM and DRAM papers (the data set's "digits" kind); one digit at the centre
without clutter, which the centre glimpse covers whole. The others change one setting of the
official DRAM at a time.
``python -m saccader evaluate --preset tiny --what dram_study`` writes
``data/results/<preset>/dram_study.csv``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from saccader.evaluation.curves import RESULT_COLUMNS, dram_curves, resolve_device
from saccader.evaluation.methods import _batch_size, check_preset, heldout_split, input_preparer, trained_model
from saccader.evaluation.results import LOCAL, cached_table, results_key

# {variant: (overrides of the dram stage, what it changes)}; the variants of SHORT_VARIANTS also train for a
# quarter of the preset's DRAM epochs (:func:`variant_overrides`)
DRAM_VARIANTS: dict[str, tuple[dict, str]] = {
    "official": ({}, "the preset's DRAM (the official settings at this scale)"),
    "short_schedule": ({}, "the preset's DRAM trained for a quarter of its epochs (every variant below changes one "
                           "thing of this one)"),
    "no_clutter": ({"dataset_kwargs.num_distractors": 0, "dataset_kwargs.num_fragments": 0},
                   "sanity case: the object alone on the background (no distractors, no fragments)"),
    "fixed_position": ({"dataset_kwargs.centred": True},
                       "sanity case: the object at the centre of every image (clutter kept)"),
    "cluttered_digits": ({"dataset_kwargs.kind": "digits"},
                         "sanity case: cluttered digits, the task of the RAM and DRAM papers (one digit at a random "
                         "place amid pieces of digits)"),
    "centred_digits": ({"dataset_kwargs.kind": "digits", "dataset_kwargs.centred": True,
                        "dataset_kwargs.num_fragments": 0},
                       "sanity case: one digit at the centre of every image, no clutter"),
    "all_resolutions": ({"model_kwargs.limit_classification_rf": False},
                        "the classifier sees all three resolutions at every step, not only the high-resolution one"),
    "torch_init": ({"model_kwargs.init": "torch"}, "PyTorch's initializers instead of slim's"),
}
SHORT_VARIANTS = tuple(v for v in DRAM_VARIANTS if v != "official")
DRAM_POLICIES = ("learned", "random", "center")
STUDY_COLUMNS = ["variant"] + RESULT_COLUMNS


def short_epochs(preset: str, data_dir: str | None = None) -> int:
    """The schedule of the variants of :data:`SHORT_VARIANTS`: a quarter of the preset's DRAM epochs
    (tiny: 4 of 16, its former setting); ``data_dir``: the folder of a preset that reads one."""
    from saccader.train.presets import resolve_config

    return max(1, resolve_config("dram", check_preset(preset), data_dir=data_dir).epochs // 4)


def variant_overrides(variant: str, preset: str = "tiny", data_dir: str | None = None) -> dict:
    """The overrides of the dram stage that make ``variant`` at ``preset``."""
    if variant not in DRAM_VARIANTS:
        raise ValueError(f"unknown DRAM variant {variant!r}; choose among {', '.join(DRAM_VARIANTS)}")
    short = {"epochs": short_epochs(preset, data_dir)} if variant in SHORT_VARIANTS else {}
    return {**short, **DRAM_VARIANTS[variant][0]}


def dram_study_curves(preset: str, variants=None, seeds=(0,), max_images: int | None = None, device: str = "cpu",
                      data_dir: str | None = None, max_glimpses: int = 12, batch_size: int | None = None) -> pd.DataFrame:
    """Curves (``STUDY_COLUMNS``) of DRAM under each variant and policy (missing runs are trained now)."""
    check_preset(preset)
    frames = []
    for variant in variants or DRAM_VARIANTS:
        net, run = trained_model("dram", preset, variant_overrides(variant, preset, data_dir), data_dir, device)
        dataset = heldout_split(run.config, net.cfg, data_dir)
        prep = input_preparer("dram", net.cfg)
        for policy in DRAM_POLICIES:
            df = dram_curves(net, dataset, max_glimpses, _batch_size(preset, batch_size), max_images, device, seeds,
                             prepare=prep, policy=policy)
            frames.append(df.assign(variant=variant))
    return pd.concat(frames, ignore_index=True)[STUDY_COLUMNS]


def get_dram_study(preset: str = "tiny", seeds=(0,), max_images: int | None = None, device: str = "cpu",
                   data_dir: str | None = None, max_glimpses: int = 12, force: bool = False, root: Path | None = None,
                   batch_size: int | None = None, local_root: Path | None = None, write: str = LOCAL,
                   allow_dirty: bool = False) -> pd.DataFrame:
    """The DRAM study of ``preset`` (``data/results/<preset>/dram_study.csv``), cached like
    :func:`saccader.evaluation.results.get_results`."""
    check_preset(preset)
    variants = {k: variant_overrides(k, preset, data_dir) for k in DRAM_VARIANTS}
    settings = {"variants": variants, "policies": list(DRAM_POLICIES),
                "seeds": [int(s) for s in seeds], "max_images": max_images, "max_glimpses": int(max_glimpses)}
    runs = {f"dram[{k}]": ("dram", v) for k, v in variants.items()}
    key = lambda: results_key(preset, runs, settings, data_dir, __name__)  # noqa: E731
    return cached_table(preset, "dram_study", key, lambda: dram_study_curves(
        preset, None, seeds, max_images, device, data_dir, max_glimpses, batch_size),
        force, root, resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def study_table(df: pd.DataFrame, glimpses: int = 6) -> pd.DataFrame:
    """One row per variant: top-1 at ``glimpses`` for each policy (mean over seeds), and what the variant changes."""
    at = df[df.glimpses == glimpses].groupby(["variant", "policy"], sort=False).top1.mean().unstack("policy")
    at = at.reindex(columns=[p for p in DRAM_POLICIES if p in at.columns])
    at.columns = [f"top-1 {p}" for p in at.columns]
    at.insert(0, "change", [DRAM_VARIANTS.get(v, ({}, ""))[1] for v in at.index])
    return at.reset_index()


def _interval(p1: float, n1: int, p2: float | None = None, n2: int | None = None, z: float = 1.96) -> float:
    """Half-width, in points, of the 95% interval of a top-1 (in %) on ``n1`` images, or of the
    difference of two top-1s on independent images (normal approximation)."""
    var = (p1 / 100) * (1 - p1 / 100) / n1
    if p2 is not None:
        var += (p2 / 100) * (1 - p2 / 100) / n2
    return 100 * z * var ** 0.5


def study_findings(df: pd.DataFrame, glimpses: int = 6, num_classes: int | None = None) -> list[str]:
    """What the study says, one sentence per variant, from its numbers: whether the classifier
    learned (random locations above chance by more than the 95% interval of a proportion at
    chance) and whether the learned locations beat random ones (their difference outside its 95%
    interval, computed as for independent images: conservative, since both are read on the same
    images)."""
    table = study_table(df, glimpses).set_index("variant")
    images = df[df.glimpses == glimpses].groupby("variant").images.min()
    chance = 100.0 / num_classes if num_classes else None
    lines = []
    for variant, row in table.iterrows():
        n = int(images[variant])
        learned, random_ = row.get("top-1 learned"), row.get("top-1 random")
        parts = [f"learned {learned:.1f}%, random {random_:.1f}%, centre {row.get('top-1 center', float('nan')):.1f}%"]
        if chance is not None:
            parts.append("the classifier reads the glimpses (random locations above chance)"
                         if random_ - chance > _interval(chance, n) else
                         "the classifier stays at chance even with random locations")
        diff, margin = learned - random_, _interval(learned, n, random_, n)
        verdict = ("the learned locations beat random ones" if diff > margin else
                   "the learned locations do worse than random ones" if diff < -margin else
                   "the learned locations do no better than random ones")
        parts.append(f"{verdict} ({diff:+.1f} +- {margin:.1f} points, {n} images)")
        lines.append(f"- **{variant}** ({row['change']}): " + "; ".join(parts) + ".")
    return lines
