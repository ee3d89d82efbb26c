"""The "digits" kind of the generated data set: cluttered digits, the sanity task of the RAM and DRAM
papers (Mnih et al. 2014, Ba et al. 2015: an MNIST digit at a random place in a larger image, amid
pieces of other digits), drawn here without a download.

* class k is the digit k (``num_classes`` <= 10), drawn from a 5 x 7 dot-matrix font (:data:`FONT`)
  scaled with hard edges to ``object_size`` [22] px high: one glimpse (33 px at 96 px) covers it;
* the digit lies at a random place (or at the centre with ``centred``), in white with a little
  brightness jitter, on the smooth background of the other kinds;
* clutter as in cluttered MNIST: ``num_fragments`` [6] white pieces of random digits,
  ``fragment_size`` [0.5] of the digit's box, kept off the digit; ``num_distractors`` [0] whole digits
  of other classes, if asked for.

The class is read from the digit's shape alone: no colour tells it. A model whose glimpses land on the
digit can name it; pieces of clutter look like parts of digits.
"""
from __future__ import annotations

import functools

import numpy as np

from saccader.data.drawing import background, jitter, paint_fragments, paste, place

# 5 columns x 7 rows per digit ("#" = ink)
FONT = {
    0: (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    1: ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    2: (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    3: ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    4: ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    5: ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    6: ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    7: ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    8: (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    9: (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}
MAX_DIGITS = len(FONT)
WHITE = np.ones((1, 3), np.float32)


@functools.lru_cache(maxsize=8)
def digit_masks(size: int) -> np.ndarray:
    """Alpha masks (10, size, size) float32 in {0, 1}: digit k scaled (nearest neighbour) to ``size``
    px high and 5/7 of that wide, centred in its box. Read-only (cached)."""
    glyphs = np.array([[[c == "#" for c in row] for row in FONT[k]] for k in range(MAX_DIGITS)], np.float32)
    width = max(1, int(round(size * 5 / 7)))
    rows = np.minimum(np.arange(size) * 7 // size, 6)
    cols = np.minimum(np.arange(width) * 5 // width, 4)
    out = np.zeros((MAX_DIGITS, size, size), np.float32)
    x0 = (size - width) // 2
    out[:, :, x0:x0 + width] = glyphs[:, rows][:, :, cols]
    out.setflags(write=False)
    return out


def class_names(num_classes: int) -> list[str]:
    return [str(k) for k in range(num_classes)]


def generate_chunk(cfg, rng: np.random.Generator, labels: np.ndarray) -> dict:
    """Paint one chunk of the "digits" kind (float images before noise, and the boxes)."""
    b, h, s, c = labels.shape[0], cfg.image_size, cfg.object_size, cfg.num_classes
    masks = digit_masks(s)
    canvas = background(rng, cfg, b)
    xy = place(rng, b, s, h, None)
    if cfg.centred:
        xy[:] = (h - s) // 2
    box = np.concatenate([xy, xy + s], 1)
    occupied = box[:, None, :]
    n_d = cfg.num_distractors
    shapes = np.empty((b, n_d), np.int64)
    d_boxes = np.empty((b, n_d, 4), np.int64)
    for i in range(n_d):  # whole digits of other classes
        shapes[:, i] = (labels + 1 + rng.integers(0, c - 1, b)) % c
        d_xy = place(rng, b, s, h, occupied)
        d_boxes[:, i] = np.concatenate([d_xy, d_xy + s], 1)
        occupied = np.concatenate([occupied, d_boxes[:, i:i + 1]], 1)
    paint_fragments(rng, canvas, masks, c, WHITE, cfg, s, box[:, None, :])  # drawn first, kept off the digit
    for i in range(n_d):
        paste(canvas, masks[shapes[:, i]], jitter(rng, np.repeat(WHITE, b, 0), cfg.colour_jitter), d_boxes[:, i, :2])
    paste(canvas, masks[labels], jitter(rng, np.repeat(WHITE, b, 0), cfg.colour_jitter), xy)
    return {
        "images": canvas,
        "object_boxes": box,
        "part_boxes": box[:, None],
        "distractor_boxes": d_boxes,
        "distractor_ids": np.stack([shapes, np.zeros_like(shapes)], -1),
    }
