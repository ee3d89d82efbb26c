"""Accuracies of one training run with their 95 % intervals over the test images, and differences
between two curves at equal glimpses: what a results page can say when a preset was trained once
(the spread over training runs, where there is one, is in ``evaluation.seeds`` and ``claims``)."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from saccader.evaluation.claims import accuracy_interval, difference_interval
from saccader.evaluation.methods import curve_label
from saccader.evaluation.results import at_glimpses

COMPARISONS = ((("saccader", "learned"), ("saccader", "random")),
               (("saccader", "learned"), ("saccader", "ordered_logits")),
               (("saccader", "learned"), ("saccader_no_pretraining", "learned")))


def _points(curves: pd.DataFrame, glimpses: int) -> pd.DataFrame:
    """Each curve's point at ``glimpses`` (mean over the random policy's seeds), by (method, policy)."""
    at = at_glimpses(curves, glimpses)
    return at[at.glimpses == glimpses].set_index(["method", "policy"])


def with_intervals(curves: pd.DataFrame, glimpses: Sequence[int] = (1, 6, 12),
                   curves_shown: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Top-1 of each curve at ``glimpses`` with its 95 % Wilson interval over the test images."""
    shown = curves_shown or list(dict.fromkeys(zip(curves.method, curves.policy)))
    points = {t: _points(curves, t) for t in glimpses}
    rows = []
    for curve in shown:
        for t in glimpses:
            if tuple(curve) not in points[t].index:
                continue
            p = points[t].loc[tuple(curve)]
            low, high = accuracy_interval(p.top1, p.images)
            rows.append({"curve": curve_label(*curve), "glimpses": t, "top1": p.top1, "top1 95% low": float(low),
                         "top1 95% high": float(high), "top5": p.top5, "coverage": p.coverage,
                         "images": int(p.images)})
    return pd.DataFrame(rows)


def differences(curves: pd.DataFrame, comparisons=COMPARISONS, glimpses: Sequence[int] = (1, 2, 3, 6, 12)):
    """``a - b`` in top-1 points at equal glimpses for each pair of curves, with its 95 % interval
    (the two accuracies taken as independent: conservative for two policies of one model); the
    verdict names the curve above when the whole interval is on one side of 0, else "not resolved"."""
    points = {t: _points(curves, t) for t in glimpses}
    rows = []
    for a, b in comparisons:
        for t in glimpses:
            if tuple(a) not in points[t].index or tuple(b) not in points[t].index:
                continue
            pa, pb = points[t].loc[tuple(a)], points[t].loc[tuple(b)]
            low, high = (float(v) for v in difference_interval(pa.top1, pb.top1, min(pa.images, pb.images)))
            verdict = (f"{curve_label(*a)} above" if low > 0 else f"{curve_label(*b)} above" if high < 0
                       else "not resolved")
            rows.append({"a": curve_label(*a), "b": curve_label(*b), "glimpses": t, "a top1": pa.top1,
                         "b top1": pb.top1, "difference": pa.top1 - pb.top1, "95% low": low, "95% high": high,
                         "verdict": verdict})
    return pd.DataFrame(rows)


__all__ = ["COMPARISONS", "differences", "with_intervals"]
