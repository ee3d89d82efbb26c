"""Subsets of a labelled data set that keep every class: ``max_train_images`` / ``max_eval_images``
on a folder data set (ImageNet, Imagenette) take the same share of each class, chosen by a seed,
rather than the first N images of a class-sorted list (which would hold the first few classes only)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def stratified_indices(targets: Sequence[int], n: int, seed: int = 0) -> list[int]:
    """``n`` indices into ``targets``, each class in proportion to its count (largest remainders
    take the left-over places), drawn within each class by ``seed``; returned sorted, so that a
    subset keeps the data set's order. ``n >= len(targets)`` gives every index."""
    targets = np.asarray(targets)
    total = len(targets)
    if n >= total:
        return list(range(total))
    if n <= 0:
        raise ValueError(f"a subset needs at least one image, got n={n}")
    classes, counts = np.unique(targets, return_counts=True)
    exact = counts * (n / total)
    take = np.floor(exact).astype(int)
    left = n - int(take.sum())
    if left:
        order = np.lexsort((classes, -(exact - take)))  # largest remainder first, ties by class
        take[order[:left]] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for c, k in zip(classes, take):
        members = np.flatnonzero(targets == c)
        chosen.append(rng.permutation(members)[:k])
    return sorted(int(i) for i in np.concatenate(chosen))


__all__ = ["stratified_indices"]
