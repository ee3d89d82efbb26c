"""The paper's qualitative claims checked against our tables, with the spread over training runs.

A claim compares two curves (method, policy) at a number of glimpses. With a training-seed table
(:func:`saccader.evaluation.seeds.get_training_seeds`) the comparison is paired: the difference is taken
within each training seed (the two curves of one seed share their BagNet and data order), then
summarised by its mean, its standard deviation over seeds and how many seeds agree in sign. A
claim "holds" when every seed agrees and the mean difference exceeds ``margin`` points; it is
"not reproduced" when the mean difference is within ``margin`` or of the other sign.

    from saccader import evaluation
    from saccader.evaluation import claims
    table = evaluation.get_training_seeds("tiny")
    claims.paired_difference(table, ("saccader", "learned"), ("saccader", "random"), glimpses=1)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from saccader.evaluation.methods import curve_label

# (better, worse, glimpses, the paper's statement) checked by the book at every preset
PAPER_CLAIMS = (
    (("saccader", "learned"), ("saccader", "random"), 1,
     "the learned policy beats random glimpses at low glimpse counts (Figure 3)"),
    (("saccader", "learned"), ("saccader", "ordered_logits"), 1,
     "the learned policy beats the ordered-logits policy at low glimpse counts (Figure 3)"),
    (("saccader", "learned"), ("saccader", "random"), 6,
     "the learned policy beats random glimpses at the 6 training glimpses (Figure 3)"),
    (("saccader", "learned"), ("saccader_no_pretraining", "learned"), 6,
     "location pretraining is needed: without it the policy does worse (Figure Supp.3)"),
    (("saccader", "learned"), ("dram", "learned"), 6,
     "the Saccader beats DRAM at the 6 training glimpses (Figure 3)"),
)


@dataclass(frozen=True)
class Difference:
    """``a`` minus ``b`` (top-1 points) at ``glimpses``, per training seed and summarised."""

    a: tuple[str, str]
    b: tuple[str, str]
    glimpses: int
    per_seed: dict  # {train_seed: a - b}
    mean: float
    sd: float  # over training seeds (ddof 1; NaN with one seed)
    agree: int  # seeds where a > b
    margin: float

    @property
    def runs(self) -> int:
        return len(self.per_seed)

    @property
    def verdict(self) -> str:
        if self.mean > self.margin and self.agree == self.runs:
            return "holds"
        if self.mean > self.margin:
            spread = "; the mean is within one sd over runs" if self.sd == self.sd and self.mean < self.sd else ""
            return f"holds on average, not in every run{spread}"
        return "not reproduced"


def _per_seed(df: pd.DataFrame, curve: tuple[str, str], glimpses: int, metric: str) -> pd.Series:
    sel = df[(df.method == curve[0]) & (df.policy == curve[1]) & (df.glimpses == glimpses)]
    if sel.empty:
        raise ValueError(f"no rows for {curve} at {glimpses} glimpses; the table has "
                         f"{sorted(set(zip(df.method, df.policy)))} at {sorted(df.glimpses.unique())}")
    return sel.groupby("train_seed")[metric].mean()  # mean over evaluation seeds (the random policy)


def paired_difference(df: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], glimpses: int,
                      metric: str = "top1", margin: float = 1.0) -> Difference:
    """``a`` - ``b`` in ``metric`` points at ``glimpses``, paired by training seed (a curves table
    without ``train_seed`` counts as one run)."""
    if "train_seed" not in df:
        df = df.assign(train_seed=0)
    va, vb = _per_seed(df, a, glimpses, metric), _per_seed(df, b, glimpses, metric)
    seeds = sorted(set(va.index) & set(vb.index))
    if not seeds:
        raise ValueError(f"{a} and {b} share no training seed")
    diff = {int(s): float(va[s] - vb[s]) for s in seeds}
    values = np.array(list(diff.values()))
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return Difference(a, b, int(glimpses), diff, float(values.mean()), sd, int((values > 0).sum()), margin)


def accuracy_interval(percent, images, z: float = 1.96) -> tuple:
    """The Wilson score interval (95 % by default) of an accuracy of ``percent`` % on ``images``
    images, in percent: the spread from the finite test set alone (one trained model)."""
    p, n = np.asarray(percent, dtype=float) / 100.0, np.asarray(images, dtype=float)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100.0 * (centre - half), 100.0 * (centre + half)


def difference_interval(a_percent, b_percent, images, z: float = 1.96) -> tuple:
    """95 % interval of the difference ``a - b`` (points) of two accuracies on the same ``images``
    test images, treating the two as independent: wider than the paired interval whenever the
    two methods tend to be right on the same images (as policies of one model are)."""
    a, b = np.asarray(a_percent, dtype=float) / 100.0, np.asarray(b_percent, dtype=float) / 100.0
    n = np.asarray(images, dtype=float)
    half = z * np.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    return 100.0 * (a - b - half), 100.0 * (a - b + half)


def claims_table(df: pd.DataFrame, claims=PAPER_CLAIMS, metric: str = "top1", margin: float = 1.0) -> pd.DataFrame:
    """One row per claim: the paper's statement, the mean difference, its sd over training runs,
    how many runs agree, and the verdict."""
    rows = []
    for a, b, t, statement in claims:
        d = paired_difference(df, a, b, t, metric, margin)
        rows.append({"paper": statement, "comparison": f"{curve_label(*a)} - {curve_label(*b)}", "glimpses": t,
                     f"{metric} difference (points)": d.mean, "sd over runs": d.sd,
                     "runs agreeing": f"{d.agree}/{d.runs}", "verdict": d.verdict})
    return pd.DataFrame(rows)


__all__ = ["PAPER_CLAIMS", "Difference", "accuracy_interval", "claims_table", "difference_interval", "paired_difference"]
