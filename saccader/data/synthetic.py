"""The embedded default data set "clutter": generated images where *where* a model looks matters.

ImageNet is not needed to run the companion end to end. This procedural data set keeps what makes
hard attention interesting: the class evidence lies at a few places in the image. It keeps the
paper's geometry ratio: a 77-px glimpse of a 224-px image covers 11.8 % of it; a 33-px glimpse of the
default 96-px image covers the same 11.8 %. It comes in three kinds (``ClutterConfig.kind``):

* ``"parts"`` (the default; ``saccader.data.parts``): the object is larger than a glimpse and made of
  4 parts, each shared between classes, amid clutter made of the same parts. Accuracy grows with the
  number of parts seen, as it grows with glimpses on ImageNet.
* ``"object"`` (the previous default): one small class-bearing object among look-alike clutter; one
  glimpse on the object names the class. Each image (``ClutterConfig`` defaults in brackets) holds:

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

* ``"digits"`` (``saccader.data.digits``): cluttered digits, the sanity task of the RAM and DRAM
  papers: one white digit at a random place amid pieces of other digits.

Then a little per-object brightness jitter and pixel noise. Generation is vectorized NumPy over
chunks of ``CHUNK`` images, each chunk seeded from (seed, split, chunk index), so image i does not
depend on how many images were asked for, and train/val/test never share images. Data sets are
cached under ``$SACCADER_CACHE/clutter`` (default ``~/.cache/saccader/clutter``) in a file keyed by
a hash of the config and ``GENERATOR_VERSION``.
"""
from __future__ import annotations

import dataclasses
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

from saccader.data.drawing import (  # noqa: F401  (re-exported: the shapes are part of this module's API)
    PALETTE, SHAPE_AREA, SHAPE_NAMES, background, class_colours, class_masks, class_names, jitter, paint_fragments, paste,
    place)
from saccader.data.transforms import IMAGENET_MEAN, IMAGENET_STD

# Bump when the images produced for a given config change: old cache files are then ignored.
GENERATOR_VERSION = 3
CHUNK = 256
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_NUM_IMAGES = {"train": 5000, "val": 1000, "test": 1000}

MAX_CLASSES = 1000
KINDS = ("parts", "object", "digits")
# "parts": 2 whole clutter parts keep a bag of all the image's parts right on 85 % of images (4: 63 %),
# so that the full-image BagNet is a strong reference; "object": the previous default; "digits":
# cluttered digits have fragments only, as cluttered MNIST
DEFAULT_DISTRACTORS = {"parts": 2, "object": 4, "digits": 0}
_INT8_UNIFORM_STD = float(np.sqrt((256 ** 2 - 1) / 12))  # std of a uniform int8


@dataclass(frozen=True)
class ClutterConfig:
    """Parameters of the clutter data set (all sizes in pixels).

    kind: "parts" (an object of several shared parts, larger than a glimpse; the default),
        "object" (one small object that one glimpse covers; the previous default) or "digits"
        (cluttered digits, as in the RAM and DRAM papers; at most 10 classes).
    image_size: side of the square image (96 -> 33-px glimpses, the paper's 77/224 ratio).
    num_classes: number of classes (>= 2).
    object_size: "object" kind: side of the square box holding the class-bearing object; must fit
        in one glimpse (``glimpse_size``) for a receptive-field-sized glimpse to see the whole object.
    num_parts: "parts" kind: parts per object (2..4, at the corners of a square).
    num_part_types: "parts" kind: part types shared by the classes (``num_parts``..12).
    part_size: "parts" kind: side of a part's box.
    part_spacing, part_spacing_max: "parts" kind: range of the distance between neighbouring parts'
        corners (the object's side is this distance + ``part_size``).
    num_distractors: "object": whole shapes in a wrong colour; "parts": whole parts of random types.
    num_fragments: pieces of random shapes in random colours.
    fragment_size: side of a fragment as a fraction of ``object_size`` ("parts": ``part_size``), (0, 1].
    background_strength: amplitude of the smooth background texture, in [0, 1] (0 = flat grey).
    background_cells: coarse noise cells per side of the background (larger = busier texture).
    colour_jitter: per-object brightness jitter, in [0, 1).
    noise_std: standard deviation of the additive pixel noise on the [0, 1] scale.
    centred: the object at the centre of every image instead of a random position (a sanity case:
        a policy that looks at the centre needs no learning).
    seed: base seed; train/val/test use seeds derived from (seed, split).
    """

    kind: str = "parts"
    image_size: int = 96
    num_classes: int = 10
    object_size: int = 22
    num_parts: int = 4
    num_part_types: int = 8
    part_size: int = 14
    part_spacing: int = 40
    part_spacing_max: int = 52
    num_distractors: int | None = None  # None: the kind's default, 2 ("parts") or 4 ("object")
    num_fragments: int = 6
    fragment_size: float = 0.5
    background_strength: float = 0.35
    background_cells: int = 5
    colour_jitter: float = 0.1
    noise_std: float = 0.03
    centred: bool = False
    seed: int = 0

    def __post_init__(self):
        def need(ok: bool, msg: str):
            if not ok:
                raise ValueError(f"ClutterConfig: {msg}")

        if self.num_distractors is None and self.kind in KINDS:
            object.__setattr__(self, "num_distractors", DEFAULT_DISTRACTORS[self.kind])

        need(self.kind in KINDS, f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        for name in ("image_size", "num_classes", "object_size", "num_distractors", "num_fragments",
                     "background_cells", "seed", "num_parts", "num_part_types", "part_size",
                     "part_spacing", "part_spacing_max"):
            value = getattr(self, name)
            need(isinstance(value, (int, np.integer)) and not isinstance(value, bool),
                 f"{name} must be an integer, got {value!r}")
        need(self.image_size >= 8, f"image_size must be >= 8, got {self.image_size}")
        need(2 <= self.num_classes <= MAX_CLASSES,
             f"num_classes must be in [2, {MAX_CLASSES}], got {self.num_classes}")
        need(4 <= self.object_size <= self.image_size,
             f"object_size={self.object_size} must be in [4, image_size={self.image_size}]; "
             f"use an object smaller than the image (default ratio 22/96)")
        if self.kind == "parts":
            self._check_parts(need)
        if self.kind == "digits":
            need(self.num_classes <= 10, f"the digits kind has 10 classes at most, got num_classes={self.num_classes}")
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
        need(isinstance(self.centred, (bool, np.bool_)), f"centred must be true or false, got {self.centred!r}")

    def _check_parts(self, need) -> None:
        from math import comb

        from saccader.data.parts import MAX_PART_TYPES

        need(2 <= self.num_parts <= 4, f"num_parts must be in [2, 4], got {self.num_parts}")
        need(self.num_parts <= self.num_part_types <= MAX_PART_TYPES,
             f"num_part_types must be in [num_parts={self.num_parts}, {MAX_PART_TYPES}], got {self.num_part_types}")
        need(self.num_classes <= comb(self.num_part_types, self.num_parts),
             f"num_classes={self.num_classes} needs more than the {comb(self.num_part_types, self.num_parts)} "
             f"sets of {self.num_parts} parts out of {self.num_part_types}; raise num_part_types")
        need(4 <= self.part_size, f"part_size must be >= 4, got {self.part_size}")
        need(self.part_size < self.part_spacing <= self.part_spacing_max,
             f"need part_size={self.part_size} < part_spacing={self.part_spacing} <= "
             f"part_spacing_max={self.part_spacing_max} (parts must not touch)")
        need(self.part_spacing_max + self.part_size <= self.image_size,
             f"part_spacing_max + part_size = {self.part_spacing_max + self.part_size} exceeds "
             f"image_size={self.image_size}; lower part_spacing_max")

    @property
    def object_extent(self) -> tuple[int, int]:
        """Smallest and largest side of the object's box (``object_size`` for the "object" kind)."""
        if self.kind in ("object", "digits"):
            return self.object_size, self.object_size
        return self.part_spacing + self.part_size, self.part_spacing_max + self.part_size

    @property
    def glimpse_size(self) -> int:
        """Glimpse side with the paper's ratio 77/224 (33 at 96 px)."""
        return int(round(self.image_size * 77 / 224))

    @property
    def num_colours(self) -> int:
        return min(self.num_classes, len(PALETTE))

    def replace(self, **changes) -> "ClutterConfig":
        """A copy with ``changes``; a new ``kind`` brings its own default ``num_distractors`` unless
        that is given or was changed from the old kind's default."""
        if ("kind" in changes and "num_distractors" not in changes
                and self.num_distractors == DEFAULT_DISTRACTORS.get(self.kind)):
            changes["num_distractors"] = None
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
                    if kind is bool:
                        value = {"true": True, "1": True, "false": False, "0": False}[value.lower()]
                    else:
                        value = kind(float(value)) if kind is int and "." in value else kind(value)
                except (ValueError, KeyError):
                    raise ValueError(f"{name}={value!r}: expected a {kind.__name__}") from None
            changes[name] = value
        return base.replace(**changes)


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def _chunk_rng(cfg: ClutterConfig, split: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLITS[split], chunk, 0x5ACC]))


def generate_chunk(cfg: ClutterConfig, split: str, chunk: int, size: int = CHUNK,
                   masks: np.ndarray | None = None) -> dict:
    """Generate chunk number ``chunk`` of a split: ``size`` images, deterministic from (cfg, split,
    chunk). Returns numpy arrays: images uint8 (n, 3, H, W), labels int64 (n,), object_boxes int64
    (n, 4) (x0, y0, x1, y1; exclusive), part_boxes int64 (n, M, 4) (the object's parts; M = 1 for
    the "object" kind), distractor_boxes int64 (n, D, 4), distractor_ids int64 (n, D, 2) (shape,
    colour index)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    rng = _chunk_rng(cfg, split, chunk)
    b = size
    # Labels: balanced within a chunk, rotated across chunks, shuffled.
    labels = rng.permutation((np.arange(b) + chunk * b) % cfg.num_classes).astype(np.int64)
    if cfg.kind == "parts":
        from saccader.data import parts

        out = parts.generate_chunk(cfg, rng, labels)
    elif cfg.kind == "digits":
        from saccader.data import digits

        out = digits.generate_chunk(cfg, rng, labels)
    else:
        out = _object_chunk(cfg, rng, labels, masks)
    canvas = out.pop("images")
    if cfg.noise_std > 0:  # uniform pixel noise with standard deviation noise_std (cheap to draw)
        noise = np.frombuffer(rng.bytes(canvas.size), np.int8).reshape(canvas.shape)
        canvas += noise.astype(np.float32) * np.float32(cfg.noise_std / _INT8_UNIFORM_STD)
    canvas *= 255
    np.clip(canvas, 0, 255, out=canvas)
    images = np.rint(canvas, out=canvas).astype(np.uint8)
    return {"images": images, "labels": labels, **{k: v.astype(np.int64) for k, v in out.items()}}


def _object_chunk(cfg: ClutterConfig, rng: np.random.Generator, labels: np.ndarray,
                  masks: np.ndarray | None) -> dict:
    """Paint one chunk of the "object" kind (float images before noise and the boxes)."""
    b, h, s, c = labels.shape[0], cfg.image_size, cfg.object_size, cfg.num_classes
    p = cfg.num_colours
    masks = class_masks(c, s) if masks is None else masks
    colours = class_colours(c)
    palette = np.array([rgb for _, rgb in PALETTE[:p]], np.float32)
    canvas = background(rng, cfg, b)

    obj_xy = place(rng, b, s, h, None)
    if cfg.centred:
        obj_xy[:] = (h - s) // 2
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
        xy = place(rng, b, s, h, occupied)
        d_boxes[:, i] = np.concatenate([xy, xy + s], 1)
        occupied = np.concatenate([occupied, d_boxes[:, i:i + 1]], 1)

    paint_fragments(rng, canvas, masks, c, palette, cfg, s, obj_box[:, None, :])  # drawn first, kept off the object

    for i in range(n_d):
        col = jitter(rng, palette[dcols[:, i]], cfg.colour_jitter)
        paste(canvas, masks[shapes[:, i]], col, d_boxes[:, i, :2])

    paste(canvas, masks[labels], jitter(rng, colours[labels], cfg.colour_jitter), obj_xy)
    return {
        "images": canvas,
        "object_boxes": obj_box,
        "part_boxes": obj_box[:, None],
        "distractor_boxes": d_boxes,
        "distractor_ids": np.stack([shapes, dcols], -1),
    }


def dataset_class_names(cfg: ClutterConfig) -> list[str]:
    """Readable class names: "red disk" ("object" kind) or the parts' colours, "red+blue+cyan+white"."""
    if cfg.kind == "parts":
        from saccader.data import parts

        return parts.class_names(cfg.num_classes, cfg.num_part_types, cfg.num_parts)
    if cfg.kind == "digits":
        from saccader.data import digits

        return digits.class_names(cfg.num_classes)
    return class_names(cfg.num_classes)


def generate(cfg: ClutterConfig, split: str, num_images: int) -> dict:
    """The first ``num_images`` images of a split (see ``generate_chunk`` for the arrays).

    Image i is the same whatever ``num_images`` is (chunks are seeded independently)."""
    if not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}")
    masks = class_masks(cfg.num_classes, cfg.object_size) if cfg.kind == "object" else None
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
    (x0, y0, x1, y1 exclusive), part_boxes (N, M, 4), distractor_boxes (N, D, 4), distractor_ids (N, D, 2),
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
        self.part_boxes = torch.from_numpy(arrays["part_boxes"]).long()
        self.num_classes = self.cfg.num_classes
        self.class_names = dataset_class_names(self.cfg)
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
                f"kind={self.cfg.kind!r}, image_size={self.cfg.image_size})")


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
        "kind": cfg.kind,
        "object_size": float(np.sqrt(side_w * side_h).mean()),
        "glimpse_size": cfg.glimpse_size,
        "object_area_fraction": float((side_w * side_h).mean() / h ** 2),
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
