"""The embedded default data set "clutter": one small class-bearing object among look-alike clutter.

ImageNet is not needed to run the companion end to end. This procedural data set keeps what makes
hard attention interesting: the class is visible only at one place in the image, so *where* a model
looks matters. It keeps the paper's geometry ratio: a 77-px glimpse of a 224-px image covers 11.8 %
of it; a 33-px glimpse of the default 96-px image covers the same 11.8 %.

Each image (``ClutterConfig`` defaults in brackets) holds:

* a smooth random **background** texture (two octaves of bilinearly upsampled noise around grey,
  amplitude ``background_strength``);
* ``num_fragments`` **fragments** [6]: ``fragment_size`` [0.5] x object-size pieces cut out of
  random class shapes, painted in random palette colours (drawn first, kept off the object);
* ``num_distractors`` **distractors** [4]: whole shapes painted in the *wrong* colour. They are built
  as a cycle over "decoy" classes a_1..a_D: distractor i has the shape of a_i and the colour of
  a_{i+1}. The image then holds the shape and the colour of every decoy class exactly once, just as
  for the true class, so bag-of-colours or bag-of-shapes statistics of the whole image cannot tell
  the true class from D decoys (at best 1 / (D + 1) accuracy). Distractors do not overlap the object
  or each other;
* the **object** [22 px]: class k is shape k painted in colour k (12 hand-made shapes and 12
  colours; more classes use seeded random 5x5 glyphs and reuse colours). All shapes have the same
  ink area and hard edges, so pixel counts per colour do not reveal shapes either. Only the
  object binds a shape to its class colour, so the class is read by looking at the object.

Then a little per-object brightness jitter and pixel noise. Generation is vectorized NumPy over
chunks of ``CHUNK`` images, each chunk seeded from (seed, split, chunk index), so image i does not
depend on how many images were asked for, and train/val/test never share images. Data sets are
cached under ``$SACCADER_CACHE/clutter`` (default ``~/.cache/saccader/clutter``) in a file keyed by
a hash of the config and ``GENERATOR_VERSION``.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from saccader.data.transforms import IMAGENET_MEAN, IMAGENET_STD

# Bump when the images produced for a given config change: old cache files are then ignored.
GENERATOR_VERSION = 2
CHUNK = 256
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_NUM_IMAGES = {"train": 5000, "val": 1000, "test": 1000}

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
MAX_CLASSES = 1000
SHAPE_AREA = 0.38  # ink area of every shape, as a fraction of its object_size x object_size box
_INT8_UNIFORM_STD = float(np.sqrt((256 ** 2 - 1) / 12))  # std of a uniform int8


@dataclass(frozen=True)
class ClutterConfig:
    """Parameters of the clutter data set (all sizes in pixels).

    image_size: side of the square image (96 -> 33-px glimpses, the paper's 77/224 ratio).
    num_classes: number of classes (>= 2).
    object_size: side of the square box holding the class-bearing object; must fit in one glimpse
        (``glimpse_size``) for a receptive-field-sized glimpse to see the whole object.
    num_distractors: whole shapes in a wrong colour (see the module docstring).
    num_fragments: pieces of random class shapes in random colours.
    fragment_size: side of a fragment as a fraction of ``object_size`` (0, 1].
    background_strength: amplitude of the smooth background texture, in [0, 1] (0 = flat grey).
    background_cells: coarse noise cells per side of the background (larger = busier texture).
    colour_jitter: per-object brightness jitter, in [0, 1).
    noise_std: standard deviation of the additive pixel noise on the [0, 1] scale.
    seed: base seed; train/val/test use seeds derived from (seed, split).
    """

    image_size: int = 96
    num_classes: int = 10
    object_size: int = 22
    num_distractors: int = 4
    num_fragments: int = 6
    fragment_size: float = 0.5
    background_strength: float = 0.35
    background_cells: int = 5
    colour_jitter: float = 0.1
    noise_std: float = 0.03
    seed: int = 0

    def __post_init__(self):
        def need(ok: bool, msg: str):
            if not ok:
                raise ValueError(f"ClutterConfig: {msg}")

        for name in ("image_size", "num_classes", "object_size", "num_distractors",
                     "num_fragments", "background_cells", "seed"):
            value = getattr(self, name)
            need(isinstance(value, (int, np.integer)) and not isinstance(value, bool),
                 f"{name} must be an integer, got {value!r}")
        need(self.image_size >= 8, f"image_size must be >= 8, got {self.image_size}")
        need(2 <= self.num_classes <= MAX_CLASSES,
             f"num_classes must be in [2, {MAX_CLASSES}], got {self.num_classes}")
        need(4 <= self.object_size <= self.image_size,
             f"object_size={self.object_size} must be in [4, image_size={self.image_size}]; "
             f"use an object smaller than the image (default ratio 22/96)")
        need(self.num_distractors >= 0, f"num_distractors must be >= 0, got {self.num_distractors}")
        need(self.num_fragments >= 0, f"num_fragments must be >= 0, got {self.num_fragments}")
        need(0.0 < self.fragment_size <= 1.0,
             f"fragment_size must be in (0, 1] (fraction of object_size), got {self.fragment_size}")
        need(0.0 <= self.background_strength <= 1.0,
             f"background_strength must be in [0, 1], got {self.background_strength}")
        need(self.background_cells >= 2, f"background_cells must be >= 2, got {self.background_cells}")
        need(0.0 <= self.colour_jitter < 1.0, f"colour_jitter must be in [0, 1), got {self.colour_jitter}")
        need(self.noise_std >= 0.0, f"noise_std must be >= 0, got {self.noise_std}")
        need(self.seed >= 0, f"seed must be >= 0, got {self.seed}")

    @property
    def glimpse_size(self) -> int:
        """Glimpse side with the paper's ratio 77/224 (33 at 96 px)."""
        return int(round(self.image_size * 77 / 224))

    @property
    def num_colours(self) -> int:
        return min(self.num_classes, len(PALETTE))

    def replace(self, **changes) -> "ClutterConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Short hash of the parameters and the generator version (names the cache file)."""
        blob = json.dumps({"version": GENERATOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_overrides(cls, overrides: dict | None = None, base: "ClutterConfig | None" = None):
        """Config from ``{field: value}`` (values may be strings, e.g. from ``--set key=value``)."""
        base = base or cls()
        if not overrides:
            return base
        fields = {f.name: f for f in dataclasses.fields(cls)}
        changes = {}
        for name, value in overrides.items():
            if name not in fields:
                raise ValueError(f"unknown ClutterConfig field {name!r}; known: {sorted(fields)}")
            kind = type(getattr(base, name))
            if isinstance(value, str):
                try:
                    value = kind(float(value)) if kind is int and "." in value else kind(value)
                except ValueError:
                    raise ValueError(f"{name}={value!r}: expected a {kind.__name__}") from None
            changes[name] = value
        return dataclasses.replace(base, **changes)


# ---------------------------------------------------------------------------------------------
# Class appearance
# ---------------------------------------------------------------------------------------------

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
# Generation
# ---------------------------------------------------------------------------------------------

def _upsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation matrix with aligned corners."""
    pos = np.arange(n_out) * (n_in - 1) / max(n_out - 1, 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    w = (pos - lo).astype(np.float32)
    a = np.zeros((n_out, n_in), np.float32)
    a[np.arange(n_out), lo] = 1 - w
    a[np.arange(n_out), lo + 1] += w
    return a


def _background(rng: np.random.Generator, cfg: ClutterConfig, b: int) -> np.ndarray:
    """Smooth textured background (b, 3, H, W) float32 around grey."""
    h = cfg.image_size
    total = np.zeros((b, 3, h, h), np.float32)
    for octave, amp in ((cfg.background_cells, 1.0), (2 * cfg.background_cells, 0.5)):
        lum = rng.uniform(-1, 1, (b, 1, octave, octave)).astype(np.float32)
        chroma = rng.uniform(-1, 1, (b, 3, octave, octave)).astype(np.float32)
        low = 0.7 * lum + 0.3 * chroma
        a = _upsample_matrix(h, octave)
        rows = (a @ low).reshape(-1, octave)  # (b*3*H, octave): one big GEMM for the columns
        total += amp * (rows @ a.T).reshape(b, 3, h, h)
    total *= cfg.background_strength / 1.5
    total += 0.5
    return total


def _place(rng, b: int, size: int, image_size: int, occupied: np.ndarray | None,
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


def _paste(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, xy: np.ndarray) -> None:
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


def _jitter(rng, colour: np.ndarray, amount: float) -> np.ndarray:
    b = colour.shape[0]
    scale = 1 + rng.uniform(-amount, amount, (b, 1)).astype(np.float32)
    shift = rng.uniform(-amount / 2, amount / 2, (b, 3)).astype(np.float32)
    return np.clip(colour * scale + shift, 0, 1)


def _chunk_rng(cfg: ClutterConfig, split: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLITS[split], chunk, 0x5ACC]))


def generate_chunk(cfg: ClutterConfig, split: str, chunk: int, size: int = CHUNK,
                   masks: np.ndarray | None = None) -> dict:
    """Generate chunk number ``chunk`` of a split: ``size`` images, deterministic from (cfg, split,
    chunk). Returns numpy arrays: images uint8 (n, 3, H, W), labels int64 (n,), object_boxes int64
    (n, 4) (x0, y0, x1, y1; exclusive), distractor_boxes int64 (n, D, 4), distractor_ids int64
    (n, D, 2) (shape class, colour index)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    rng = _chunk_rng(cfg, split, chunk)
    b, h, s, c = size, cfg.image_size, cfg.object_size, cfg.num_classes
    p = cfg.num_colours
    masks = class_masks(c, s) if masks is None else masks
    colours = class_colours(c)
    palette = np.array([rgb for _, rgb in PALETTE[:p]], np.float32)

    # Labels: balanced within a chunk, rotated across chunks, shuffled.
    labels = rng.permutation((np.arange(b) + chunk * b) % c).astype(np.int64)
    canvas = _background(rng, cfg, b)

    obj_xy = _place(rng, b, s, h, None)
    obj_box = np.concatenate([obj_xy, obj_xy + s], 1)
    occupied = obj_box[:, None, :]

    # Distractors: a cycle over decoy classes with distinct colours (see module docstring), then
    # random wrong shape/colour pairs when there are more distractors than usable decoys.
    n_d = cfg.num_distractors
    n_decoy = min(n_d, p - 1)
    if n_decoy < 2:
        n_decoy = 0
    shapes = np.empty((b, n_d), np.int64)
    dcols = np.empty((b, n_d), np.int64)
    if n_decoy:
        keys = rng.random((b, p))
        keys[np.arange(b), labels % p] = 2.0
        decoy_col = np.argsort(keys, 1)[:, :n_decoy]  # (b, n_decoy) distinct, != target colour
        count = (c - decoy_col + p - 1) // p  # classes sharing each colour
        decoy_cls = decoy_col + p * np.floor(rng.random((b, n_decoy)) * count).astype(np.int64)
        shapes[:, :n_decoy] = decoy_cls
        dcols[:, :n_decoy] = np.roll(decoy_col, -1, axis=1)
    if n_d > n_decoy:
        extra = n_d - n_decoy
        js = rng.integers(0, c, (b, extra))
        shapes[:, n_decoy:] = js
        dcols[:, n_decoy:] = (js % p + 1 + rng.integers(0, p - 1, (b, extra))) % p
    d_boxes = np.empty((b, n_d, 4), np.int64)
    for i in range(n_d):
        xy = _place(rng, b, s, h, occupied)
        d_boxes[:, i] = np.concatenate([xy, xy + s], 1)
        occupied = np.concatenate([occupied, d_boxes[:, i:i + 1]], 1)

    # Fragments (drawn first, kept off the object).
    f = max(2, int(round(cfg.fragment_size * s)))
    ar = np.arange(f)
    for _ in range(cfg.num_fragments):
        js = rng.integers(0, c, b)
        off = rng.integers(0, s - f + 1, (b, 2))
        alpha = masks[js[:, None, None], (off[:, 1, None] + ar)[:, :, None],
                      (off[:, 0, None] + ar)[:, None, :]]
        col = _jitter(rng, palette[rng.integers(0, p, b)], cfg.colour_jitter)
        _paste(canvas, alpha, col, _place(rng, b, f, h, obj_box[:, None, :]))

    for i in range(n_d):
        col = _jitter(rng, palette[dcols[:, i]], cfg.colour_jitter)
        _paste(canvas, masks[shapes[:, i]], col, d_boxes[:, i, :2])

    _paste(canvas, masks[labels], _jitter(rng, colours[labels], cfg.colour_jitter), obj_xy)

    if cfg.noise_std > 0:  # uniform pixel noise with standard deviation noise_std (cheap to draw)
        noise = np.frombuffer(rng.bytes(canvas.size), np.int8).reshape(canvas.shape)
        canvas += noise.astype(np.float32) * np.float32(cfg.noise_std / _INT8_UNIFORM_STD)
    canvas *= 255
    np.clip(canvas, 0, 255, out=canvas)
    images = np.rint(canvas, out=canvas).astype(np.uint8)
    return {
        "images": images,
        "labels": labels,
        "object_boxes": obj_box.astype(np.int64),
        "distractor_boxes": d_boxes,
        "distractor_ids": np.stack([shapes, dcols], -1),
    }


def generate(cfg: ClutterConfig, split: str, num_images: int) -> dict:
    """The first ``num_images`` images of a split (see ``generate_chunk`` for the arrays).

    Image i is the same whatever ``num_images`` is (chunks are seeded independently)."""
    if not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}")
    masks = class_masks(cfg.num_classes, cfg.object_size)
    parts = [generate_chunk(cfg, split, k, CHUNK, masks) for k in range(-(-num_images // CHUNK))]
    return {key: np.concatenate([part[key] for part in parts])[:num_images] for key in parts[0]}


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """``$SACCADER_CACHE/clutter``, default ``~/.cache/saccader/clutter``."""
    from saccader import paths

    return paths.cache_dir() / "clutter"


def cache_file(cfg: ClutterConfig, split: str, num_images: int, cache_dir=None) -> Path:
    """Path of the cache file for (cfg, split, num_images)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"clutter-v{GENERATOR_VERSION}-{cfg.key()}-{split}-n{num_images}.npz"


def _find_cached(cfg, split, num_images, cache_dir) -> Path | None:
    """An existing cache file with at least ``num_images`` images (prefix-stable, so it can be cut)."""
    exact = cache_file(cfg, split, num_images, cache_dir)
    if exact.exists():
        return exact
    pattern = str(exact.parent / f"clutter-v{GENERATOR_VERSION}-{cfg.key()}-{split}-n*.npz")
    best = None
    for path in glob.glob(pattern):
        try:
            n = int(path.rsplit("-n", 1)[1][:-4])
        except ValueError:
            continue
        if n >= num_images and (best is None or n < best[0]):
            best = (n, Path(path))
    return best[1] if best else None


def _save_atomic(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is ordinary data
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_or_generate(cfg: ClutterConfig, split: str, num_images: int, cache_dir=None,
                     use_cache: bool = True) -> tuple[dict, Path | None, bool]:
    """(arrays, cache path or None, whether they were read from the cache)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if not use_cache:
        return generate(cfg, split, num_images), None, False
    found = _find_cached(cfg, split, num_images, cache_dir)
    if found is not None:
        try:
            with np.load(found) as z:
                arrays = {k: z[k][:num_images] for k in z.files}
            if arrays["images"].shape[0] == num_images:
                return arrays, found, True
        except (OSError, ValueError, KeyError, EOFError):
            pass  # unreadable (e.g. interrupted copy): regenerate and overwrite below
    arrays = generate(cfg, split, num_images)
    path = cache_file(cfg, split, num_images, cache_dir)
    _save_atomic(path, arrays)
    return arrays, path, False


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------

class ClutterDataset(torch.utils.data.Dataset):
    """The clutter data set as a map-style dataset of (image float (3, H, W), label int).

    Args:
        cfg: a ``ClutterConfig`` (default ``ClutterConfig()``).
        split: "train", "val" or "test" (different derived seeds, so no shared images).
        num_images: number of images (default 5000 for train, 1000 for val/test).
        cache_dir: where to cache; None = ``$SACCADER_CACHE/clutter`` (``~/.cache/saccader/clutter``).
        use_cache: False generates in memory without touching the disk.
        normalize: standardize with ``mean``/``std`` (ImageNet's by default, as the models expect);
            False returns floats in [0, 1].
        augment: random horizontal flip (the images' boxes are not flipped).

    Attributes: images uint8 (N, 3, H, W), labels int64 (N,), object_boxes int64 (N, 4)
    (x0, y0, x1, y1 exclusive), distractor_boxes (N, D, 4), distractor_ids (N, D, 2),
    class_names, num_classes, cache_path, from_cache.
    """

    def __init__(self, cfg: ClutterConfig | None = None, split: str = "train",
                 num_images: int | None = None, cache_dir=None, normalize: bool = True,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, augment: bool = False,
                 use_cache: bool = True):
        self.cfg = cfg if cfg is not None else ClutterConfig()
        if not isinstance(self.cfg, ClutterConfig):
            raise TypeError(f"cfg must be a ClutterConfig, got {type(self.cfg).__name__}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        self.split = split
        n = DEFAULT_NUM_IMAGES[split] if num_images is None else num_images
        t0 = time.perf_counter()
        arrays, self.cache_path, self.from_cache = load_or_generate(
            self.cfg, split, n, cache_dir, use_cache)
        self.load_seconds = time.perf_counter() - t0
        self.images = torch.from_numpy(arrays["images"])
        self.labels = torch.from_numpy(arrays["labels"]).long()
        self.object_boxes = torch.from_numpy(arrays["object_boxes"]).long()
        self.distractor_boxes = torch.from_numpy(arrays["distractor_boxes"]).long()
        self.distractor_ids = torch.from_numpy(arrays["distractor_ids"]).long()
        self.num_classes = self.cfg.num_classes
        self.class_names = class_names(self.num_classes)
        self.normalize = normalize
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.augment = augment
        self._m = torch.tensor(self.mean).view(3, 1, 1)
        self._s = torch.tensor(self.std).view(3, 1, 1)

    def __len__(self) -> int:
        return self.images.shape[0]

    def _to_float(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255.0)
        if self.normalize:
            x = (x - self._m) / self._s
        return x

    def __getitem__(self, i: int):
        x = self._to_float(self.images[i])
        if self.augment and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x, int(self.labels[i])

    def get_batch(self, indices, generator: torch.Generator | None = None):
        """Vectorized batch: (images float (B, 3, H, W), labels int64 (B,)); faster than a
        DataLoader on few cores. ``generator`` drives the random flips when ``augment``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self._to_float(self.images[idx])
        if self.augment:
            flip = torch.rand(len(idx), generator=generator) < 0.5
            x[flip] = x[flip].flip(-1)
        return x, self.labels[idx]

    def __repr__(self) -> str:
        return (f"ClutterDataset(split={self.split!r}, n={len(self)}, classes={self.num_classes}, "
                f"image_size={self.cfg.image_size}, object_size={self.cfg.object_size})")


def describe(dataset: ClutterDataset) -> dict:
    """Numbers for the data-set chapter (no drawing): class balance and object box statistics.

    Returns a dict with ``per_class`` (a pandas DataFrame: class, name, count, fraction,
    mean object centre x/y), ``summary`` (a flat dict: images, classes, image/object/glimpse size,
    object and glimpse area fractions, class count min/max, box centre mean/std, boxes inside the
    image) and ``config`` (the config as a dict)."""
    import pandas as pd

    labels = dataset.labels.numpy()
    boxes = dataset.object_boxes.numpy().astype(np.float64)
    cfg = dataset.cfg
    counts = np.bincount(labels, minlength=dataset.num_classes)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    per_class = pd.DataFrame({
        "class": np.arange(dataset.num_classes),
        "name": dataset.class_names,
        "count": counts,
        "fraction": counts / max(len(labels), 1),
        "centre_x": [cx[labels == k].mean() if counts[k] else np.nan for k in range(len(counts))],
        "centre_y": [cy[labels == k].mean() if counts[k] else np.nan for k in range(len(counts))],
    })
    h = cfg.image_size
    side_w = boxes[:, 2] - boxes[:, 0]
    side_h = boxes[:, 3] - boxes[:, 1]
    summary = {
        "split": dataset.split,
        "num_images": int(len(labels)),
        "num_classes": int(dataset.num_classes),
        "image_size": h,
        "object_size": cfg.object_size,
        "glimpse_size": cfg.glimpse_size,
        "object_area_fraction": cfg.object_size ** 2 / h ** 2,
        "glimpse_area_fraction": cfg.glimpse_size ** 2 / h ** 2,
        "class_count_min": int(counts.min()),
        "class_count_max": int(counts.max()),
        "box_width_mean": float(side_w.mean()),
        "box_height_mean": float(side_h.mean()),
        "box_centre_x_mean": float(cx.mean()),
        "box_centre_y_mean": float(cy.mean()),
        "box_centre_x_std": float(cx.std()),
        "box_centre_y_std": float(cy.std()),
        "boxes_inside_image": bool((boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= h).all()),
    }
    return {"per_class": per_class, "summary": summary, "config": cfg.to_dict()}
