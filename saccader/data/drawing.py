"""Drawing for the generated data sets: the 12 hand-made shapes and their palette, and the vectorized
painting helpers (smooth background, non-overlapping placement, alpha pasting, colour jitter)."""
from __future__ import annotations

import functools

import numpy as np

SHAPE_NAMES = ("disk", "square", "triangle", "ring", "plus", "cross", "diamond", "frame",
               "hstripes", "checker", "vstripes", "tee")
PALETTE = (  # (name, RGB in [0, 1]); class k gets colour k % len(PALETTE)
    ("red", (0.90, 0.10, 0.10)),
    ("green", (0.10, 0.70, 0.15)),
    ("blue", (0.15, 0.30, 0.95)),
    ("yellow", (0.95, 0.90, 0.10)),
    ("magenta", (0.90, 0.15, 0.85)),
    ("cyan", (0.10, 0.85, 0.90)),
    ("orange", (1.00, 0.55, 0.05)),
    ("white", (0.97, 0.97, 0.97)),
    ("black", (0.05, 0.05, 0.05)),
    ("purple", (0.50, 0.15, 0.70)),
    ("brown", (0.50, 0.30, 0.10)),
    ("pink", (1.00, 0.60, 0.75)),
)

SHAPE_AREA = 0.38  # ink area of every shape, as a fraction of its object_size x object_size box



def _shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of shape k on coordinates u (right) and v (down) in [-1, 1]."""
    r = np.sqrt(u * u + v * v)
    m = np.maximum(np.abs(u), np.abs(v))
    if k == 0:
        return r < 0.85
    if k == 1:
        return m < 0.72
    if k == 2:
        return (v > -0.8) & (v < 0.8) & (np.abs(u) < (v + 0.8) / 1.6 * 0.9)
    if k == 3:
        return (r > 0.5) & (r < 0.9)
    if k == 4:
        return ((np.abs(u) < 0.25) & (np.abs(v) < 0.9)) | ((np.abs(v) < 0.25) & (np.abs(u) < 0.9))
    if k == 5:
        return ((np.abs(u - v) < 0.35) | (np.abs(u + v) < 0.35)) & (m < 0.85)
    if k == 6:
        return np.abs(u) + np.abs(v) < 0.95
    if k == 7:
        return (m > 0.45) & (m < 0.85)
    if k == 8:
        return (m < 0.85) & (np.floor((v + 0.85) / 0.34) % 2 == 0)
    if k == 9:
        cells = np.floor((u + 0.85) / (1.7 / 3)) + np.floor((v + 0.85) / (1.7 / 3))
        return (m < 0.85) & (cells % 2 == 0)
    if k == 10:
        return (m < 0.85) & (np.floor((u + 0.85) / 0.34) % 2 == 0)
    if k == 11:
        return (((v > -0.85) & (v < -0.4) & (np.abs(u) < 0.85))
                | ((np.abs(u) < 0.28) & (v > -0.85) & (v < 0.85)))
    # Further classes: a seeded random 5x5 glyph, at least 3 cells away from the earlier glyphs.
    glyph = _glyphs(k - len(SHAPE_NAMES) + 1)[-1]
    iu = np.clip(np.floor((u + 0.95) / 1.9 * 5), 0, 4).astype(int)
    iv = np.clip(np.floor((v + 0.95) / 1.9 * 5), 0, 4).astype(int)
    return (m < 0.95) & glyph[iv, iu]


@functools.lru_cache(maxsize=4)
def _glyphs(n: int) -> tuple:
    rng = np.random.default_rng(10_000)
    out: list[np.ndarray] = []
    while len(out) < n:
        g = rng.random((5, 5)) < 0.5
        if 0.3 <= g.mean() <= 0.7 and all((g != h).sum() >= 3 for h in out):
            out.append(g)
    return tuple(out)


def _render(k: int, size: int, scale: float, supersample: int) -> np.ndarray:
    """Alpha (size, size) of shape k scaled by ``scale`` about the centre; ``supersample`` > 1
    anti-aliases the edges."""
    n = size * supersample
    c = ((np.arange(n) + 0.5) / n * 2 - 1) / scale
    v, u = np.meshgrid(c, c, indexing="ij")
    hi = _shape_mask(k, u, v).astype(np.float32)
    return hi.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


@functools.lru_cache(maxsize=16)
def _class_masks_cached(num_classes: int, size: int, supersample: int) -> np.ndarray:
    out = np.empty((num_classes, size, size), np.float32)
    scales = np.linspace(0.5, 1.0 / 0.98, 128)  # the largest keeps every shape inside its box
    for k in range(num_classes):
        renders = [_render(k, size, t, supersample) for t in scales]
        errors = [abs(float(r.mean()) - SHAPE_AREA) for r in renders]
        out[k] = renders[int(np.argmin(errors))]
    out.setflags(write=False)
    return out


def class_masks(num_classes: int, size: int, supersample: int = 1) -> np.ndarray:
    """Alpha masks (num_classes, size, size) float32 in [0, 1], one shape per class.

    Every shape is scaled to (nearly) the same ink area, ``SHAPE_AREA`` of its box, and drawn with
    hard edges (``supersample=1``), so the number of pixels of a colour does not tell which shape
    it was painted on (anti-aliased edges would leak the shape's perimeter into the colour
    histogram). Read-only (cached)."""
    return _class_masks_cached(num_classes, size, supersample)


def class_colours(num_classes: int) -> np.ndarray:
    """RGB colour (num_classes, 3) in [0, 1] of each class: palette entry k % 12."""
    pal = np.array([rgb for _, rgb in PALETTE], np.float32)
    return pal[np.arange(num_classes) % len(PALETTE)]


def class_names(num_classes: int) -> list[str]:
    """Readable names, e.g. "red disk"; classes past the 12 hand-made shapes are "glyph<k>"."""
    names = []
    for k in range(num_classes):
        shape = SHAPE_NAMES[k] if k < len(SHAPE_NAMES) else f"glyph{k}"
        names.append(f"{PALETTE[k % len(PALETTE)][0]} {shape}")
    return names


# ---------------------------------------------------------------------------------------------
# Painting
# ---------------------------------------------------------------------------------------------


def upsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation matrix with aligned corners."""
    pos = np.arange(n_out) * (n_in - 1) / max(n_out - 1, 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    w = (pos - lo).astype(np.float32)
    a = np.zeros((n_out, n_in), np.float32)
    a[np.arange(n_out), lo] = 1 - w
    a[np.arange(n_out), lo + 1] += w
    return a


def background(rng: np.random.Generator, cfg, b: int) -> np.ndarray:
    """Smooth textured background (b, 3, H, W) float32 around grey (``cfg``: ``image_size``,
    ``background_cells``, ``background_strength``)."""
    h = cfg.image_size
    total = np.zeros((b, 3, h, h), np.float32)
    for octave, amp in ((cfg.background_cells, 1.0), (2 * cfg.background_cells, 0.5)):
        lum = rng.uniform(-1, 1, (b, 1, octave, octave)).astype(np.float32)
        chroma = rng.uniform(-1, 1, (b, 3, octave, octave)).astype(np.float32)
        low = 0.7 * lum + 0.3 * chroma
        a = upsample_matrix(h, octave)
        rows = (a @ low).reshape(-1, octave)  # (b*3*H, octave): one big GEMM for the columns
        total += amp * (rows @ a.T).reshape(b, 3, h, h)
    total *= cfg.background_strength / 1.5
    total += 0.5
    return total


def place(rng, b: int, size: int, image_size: int, occupied: np.ndarray | None,
           margin: int = 1, candidates: int = 32) -> np.ndarray:
    """Top-left corners (b, 2) = (x0, y0) of size x size boxes that avoid the ``occupied`` boxes
    (b, m, 4) by ``margin`` px; falls back to the first candidate if none of them is free."""
    cand = rng.integers(0, image_size - size + 1, (b, candidates, 2))
    if occupied is None or occupied.shape[1] == 0:
        return cand[:, 0]
    x, y = cand[..., 0, None], cand[..., 1, None]  # (b, K, 1)
    o = occupied[:, None]  # (b, 1, m, 4)
    hit = ((x < o[..., 2] + margin) & (x + size > o[..., 0] - margin)
           & (y < o[..., 3] + margin) & (y + size > o[..., 1] - margin))
    free = ~hit.any(-1)  # (b, K)
    first = free.argmax(1)  # 0 when no candidate is free
    return cand[np.arange(b), first]


def paste(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, xy: np.ndarray) -> None:
    """Alpha-blend ``colour`` (b, 3) through ``alpha`` (b, s, s) onto ``canvas`` (b, 3, H, W) at
    top-left corners ``xy`` (b, 2), in place (flat indices: much faster than 4-d fancy indexing)."""
    b, s = alpha.shape[:2]
    _, ch, h, w = canvas.shape
    ar = np.arange(s)
    pix = (xy[:, 1, None] + ar)[:, :, None] * w + (xy[:, 0, None] + ar)[:, None, :]  # (b, s, s)
    base = (np.arange(b) * (ch * h * w))[:, None, None, None] + (np.arange(ch) * (h * w))[:, None, None]
    idx = base + pix[:, None]  # (b, 3, s, s)
    flat = canvas.reshape(-1)
    region = flat[idx]
    region += alpha[:, None] * (colour[:, :, None, None] - region)
    flat[idx] = region


def jitter(rng, colour: np.ndarray, amount: float) -> np.ndarray:
    b = colour.shape[0]
    scale = 1 + rng.uniform(-amount, amount, (b, 1)).astype(np.float32)
    shift = rng.uniform(-amount / 2, amount / 2, (b, 3)).astype(np.float32)
    return np.clip(colour * scale + shift, 0, 1)


__all__ = ["PALETTE", "SHAPE_AREA", "SHAPE_NAMES", "background", "class_colours", "class_masks", "class_names",
           "jitter", "paste", "place", "upsample_matrix"]


def paint_fragments(rng, canvas: np.ndarray, masks: np.ndarray, num_masks: int, palette: np.ndarray, cfg,
                    size: int, avoid: np.ndarray) -> None:
    """``cfg.num_fragments`` pieces of side ``cfg.fragment_size * size`` cut at random from one of the
    first ``num_masks`` masks (``size`` px), each in a random ``palette`` colour, pasted onto
    ``canvas`` off the boxes ``avoid`` (b, k, 4)."""
    b, h = canvas.shape[0], canvas.shape[-1]
    f = max(2, int(round(cfg.fragment_size * size)))
    ar = np.arange(f)
    for _ in range(cfg.num_fragments):
        js = rng.integers(0, num_masks, b)
        off = rng.integers(0, size - f + 1, (b, 2))
        alpha = masks[js[:, None, None], (off[:, 1, None] + ar)[:, :, None], (off[:, 0, None] + ar)[:, None, :]]
        col = jitter(rng, palette[rng.integers(0, len(palette), b)], cfg.colour_jitter)
        paste(canvas, alpha, col, place(rng, b, f, h, avoid))

