"""The default kind of the generated data set, "parts": each class is an object made of several parts,
larger than one glimpse, and every part is shared between classes.

Why: on ImageNet an object spans much of the image, no single 77-px glimpse holds all of its evidence,
and accuracy rises with the number of glimpses. This kind poses the same problem at 96 px:

* there are ``num_part_types`` [8] **part types**; part type p is shape p drawn in colour p (the first
  shapes and colours of ``saccader.data.drawing``), ``part_size`` [14] px wide;
* class k is a fixed set of ``num_parts`` [4] part types at the corners of a square (``class_parts``):
  the sets are chosen so that every part type belongs to about the same number of classes
  (``num_classes * num_parts / num_part_types``, 5 by default) and two classes share at most
  ``num_parts - 2`` parts. One part therefore narrows the class down to about 5 of 10, two parts to
  about 2, three or four parts name it;
* the **object** is placed with its corners ``spacing`` px apart (uniform in ``[part_spacing,
  part_spacing_max]``, [40, 52] px: the object's side varies from 54 to 66 px, 56-69 % of the image
  side, with a random position). Parts are farther apart than a glimpse is wide (33 px), so one glimpse
  sees one part, never two whole ones;
* **clutter** made of other parts: ``num_distractors`` [4] whole parts of random types (so some belong to
  the class and some do not) and ``num_fragments`` [6] pieces of parts in random colours, kept off the
  object's parts, on the smooth background of the "object" kind.

A bag-of-parts model of the whole image can still name the class (the object's 4 parts outvote 4
random ones), so the full-image references see more than any one glimpse.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from saccader.data.drawing import PALETTE, SHAPE_NAMES, background, class_masks, jitter, paint_fragments, paste, place

SLOTS = ((0, 0), (1, 0), (0, 1), (1, 1))  # (column, row) of each part in the object's 2 x 2 layout
MAX_PART_TYPES = min(len(SHAPE_NAMES), len(PALETTE))


@functools.lru_cache(maxsize=16)
def class_parts(num_classes: int, num_part_types: int = 8, num_parts: int = 4) -> np.ndarray:
    """Part type in each slot of each class, int64 (num_classes, num_parts); deterministic.

    Greedy choice over all ``num_parts``-subsets of the part types (shuffled with a fixed seed): each
    next class is a subset sharing as few parts as possible with the classes already chosen, then
    using the least-used part types. Raises ValueError when there are more classes than subsets."""
    combos = list(itertools.combinations(range(num_part_types), num_parts))
    if num_classes > len(combos):
        raise ValueError(
            f"{num_classes} classes need more than the {len(combos)} sets of {num_parts} parts out of "
            f"{num_part_types} part types; raise num_part_types or num_parts")
    rng = np.random.default_rng(0x9A47)
    order = rng.permutation(len(combos))
    sets = np.array(combos, np.int64)[order]  # (S, M)
    member = np.zeros((len(sets), num_part_types), np.int64)
    member[np.arange(len(sets))[:, None], sets] = 1
    chosen: list[int] = []
    usage = np.zeros(num_part_types, np.int64)
    overlap = np.zeros(len(sets), np.int64)  # largest overlap with a chosen class
    free = np.ones(len(sets), bool)
    for _ in range(num_classes):
        score = overlap * 10_000 + member @ usage
        score[~free] = np.iinfo(np.int64).max
        i = int(np.argmin(score))
        chosen.append(i)
        free[i] = False
        usage += member[i]
        overlap = np.maximum(overlap, member @ member[i])
    out = np.stack([rng.permutation(sets[i]) for i in chosen])
    out.setflags(write=False)
    return out


def part_names(num_part_types: int) -> list[str]:
    """Readable part names, e.g. "red disk"."""
    return [f"{PALETTE[p][0]} {SHAPE_NAMES[p]}" for p in range(num_part_types)]


def class_names(num_classes: int, num_part_types: int = 8, num_parts: int = 4) -> list[str]:
    """A class is named by its parts' colours, e.g. "red+blue+cyan+white" (slot order)."""
    parts = class_parts(num_classes, num_part_types, num_parts)
    return ["+".join(PALETTE[p][0] for p in row) for row in parts]


def generate_chunk(cfg, rng: np.random.Generator, labels: np.ndarray) -> dict:
    """Paint one chunk of the "parts" kind (``cfg``: a ``ClutterConfig``; ``labels`` (b,)).

    Returns numpy arrays: images float32 (b, 3, H, W) in [0, 1] before noise, object_boxes (b, 4)
    (x0, y0, x1, y1 exclusive: the box around the object's parts), part_boxes (b, M, 4),
    distractor_boxes (b, D, 4) and distractor_ids (b, D, 2) (part type, colour index) of the
    whole clutter parts."""
    b, h, s = labels.shape[0], cfg.image_size, cfg.part_size
    p, m = cfg.num_part_types, cfg.num_parts
    masks = class_masks(p, s)
    palette = np.array([rgb for _, rgb in PALETTE[:p]], np.float32)
    layout = class_parts(cfg.num_classes, p, m)[labels]  # (b, M) part type per slot
    canvas = background(rng, cfg, b)

    spacing = rng.integers(cfg.part_spacing, cfg.part_spacing_max + 1, b)
    slots = np.array(SLOTS[:m], np.int64)  # (M, 2)
    extent = slots.max(0)[None] * spacing[:, None] + s  # (b, 2) object width, height
    corner = np.floor(rng.random((b, 2)) * (h - extent + 1)).astype(np.int64)
    if cfg.centred:
        corner = (h - extent) // 2
    part_xy = corner[:, None] + slots[None] * spacing[:, None, None]  # (b, M, 2)
    part_boxes = np.concatenate([part_xy, part_xy + s], -1)
    object_boxes = np.concatenate([corner, corner + extent], 1)

    occupied = part_boxes
    n_d = cfg.num_distractors
    d_types = rng.integers(0, p, (b, n_d))
    d_boxes = np.empty((b, n_d, 4), np.int64)
    for i in range(n_d):
        xy = place(rng, b, s, h, occupied, margin=2)
        d_boxes[:, i] = np.concatenate([xy, xy + s], 1)
        occupied = np.concatenate([occupied, d_boxes[:, i:i + 1]], 1)

    paint_fragments(rng, canvas, masks, p, palette, cfg, s, part_boxes)  # drawn first, kept off the object's parts
    for i in range(n_d):
        paste(canvas, masks[d_types[:, i]], jitter(rng, palette[d_types[:, i]], cfg.colour_jitter), d_boxes[:, i, :2])
    for j in range(m):
        paste(canvas, masks[layout[:, j]], jitter(rng, palette[layout[:, j]], cfg.colour_jitter), part_xy[:, j])
    return {
        "images": canvas,
        "object_boxes": object_boxes,
        "part_boxes": part_boxes,
        "distractor_boxes": d_boxes,
        "distractor_ids": np.stack([d_types, d_types], -1),
    }


def evidence(cfg, arrays: dict, seed: int = 0):
    """How much of the class the parts tell, from the generator's own record (no model): the accuracy
    of the ideal bag-of-parts reader (the class sharing most parts with what it sees, ties broken at
    random) when it sees k of the object's parts, k random parts of the image (object and whole
    clutter parts), or all of them. ``arrays``: ``generate``'s arrays of the "parts" kind.

    Returns a pandas DataFrame with columns ``sees``, ``parts`` and ``accuracy``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = arrays["labels"]
    n, m, p = len(labels), cfg.num_parts, cfg.num_part_types
    table = class_parts(cfg.num_classes, p, m)
    member = np.zeros((cfg.num_classes, p))
    member[np.arange(cfg.num_classes)[:, None], table] = 1
    obj = table[labels]  # (n, M)
    every = np.concatenate([obj, arrays["distractor_ids"][:, :, 0]], 1)  # (n, M + D)

    def read(seen: np.ndarray) -> float:  # seen: (n, k) part types
        counts = np.zeros((n, p))
        np.add.at(counts, (np.repeat(np.arange(n), seen.shape[1]), seen.ravel()), 1)
        score = counts @ member.T + rng.random((n, cfg.num_classes)) * 1e-3
        return float((score.argmax(1) == labels).mean())

    def pick(pool: np.ndarray, k: int) -> np.ndarray:
        order = np.argsort(rng.random(pool.shape), 1)[:, :k]
        return np.take_along_axis(pool, order, 1)

    rows = [{"sees": "parts of the object", "parts": k, "accuracy": read(pick(obj, k))} for k in range(1, m + 1)]
    rows += [{"sees": "random parts of the image", "parts": k, "accuracy": read(pick(every, k))}
             for k in range(1, every.shape[1])]
    rows.append({"sees": "all parts of the image (bag of parts)", "parts": every.shape[1], "accuracy": read(every)})
    return pd.DataFrame(rows)


__all__ = ["MAX_PART_TYPES", "SLOTS", "class_names", "class_parts", "evidence", "generate_chunk", "part_names"]
