"""Image transforms of the paper's ImageNet pipeline (SPEC 3.6; official ``data_provider.py``).

* Train: Inception-style random crop, resize to (size, size), random horizontal flip,
  standardization with the torchvision mean/std (the official order is resize, standardize, flip:
  the same result, flipping commutes with a per-channel standardization).
  - ``crop="tf"`` (default, the official code): ``tf.image.sample_distorted_bounding_box`` with the
    whole image as the object box, ``min_object_covered=0.1``, ``aspect_ratio_range=(3/4, 4/3)``,
    ``area_range=(0.08, 1.0)``, ``max_attempts=100`` (``data_provider._random_crop``), re-implemented
    from TF's kernel (``sample_distorted_bounding_box_op.cc``, see ``tf_sample_distorted_bounding_box``):
    aspect ratio uniform on a *linear* scale, then an integer height uniform in
    ``[round(sqrt(min_area / ar)), round(sqrt(max_area / ar))]``, width ``round(height * ar)``, and
    offsets uniform in ``[0, H - h)`` (exclusive: a smaller crop never touches the last row/column);
    after 100 failures the whole image. Mean crop area on a square image: 0.45 of the image.
  - ``crop="torchvision"``: torchvision's ``RandomResizedCrop`` scheme (area fraction uniform in
    ``scale``, aspect ratio log-uniform, offsets inclusive), kept with the TF rules around it (crops
    under ``min_object_covered`` rejected, 100 attempts, whole-image fallback): mean area 0.54.
  - ``resize="tf1"`` (default, the official code): TF1 ``resize_bicubic`` on the float image
    (``align_corners=False``, no half-pixel centres, cubic a = -0.75, no antialiasing; see
    ``saccader.data.tf_resize``). ``resize="pil"``: PIL's antialiased bicubic on the uint8 crop.
* Eval: central square crop of side ``size / (size + size // 10) * min(H, W)`` (224/246 at 224,
  331/364 at 331), resized the same way (``resize="tf1"``: TF1 ``resize_bicubic`` as the official
  ``_center_crop``; ``"pil"``: PIL bicubic), standardization.

All transforms take a PIL image and return a float tensor (3, size, size).
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from saccader.data.tf_resize import tf1_resize

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROPS = ("tf", "torchvision")  # training crop samplers (default "tf", the official one)
RESIZES = ("tf1", "pil")  # resize conventions after the crop (default "tf1", the official one)

_INTERPOLATIONS = {
    "bicubic": T.InterpolationMode.BICUBIC,
    "bilinear": T.InterpolationMode.BILINEAR,
    "nearest": T.InterpolationMode.NEAREST,
}


def interpolation_mode(name: str) -> T.InterpolationMode:
    """torchvision interpolation mode from its name ("bicubic", "bilinear", "nearest")."""
    try:
        return _INTERPOLATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown interpolation {name!r}; use one of {sorted(_INTERPOLATIONS)}"
        ) from None


def default_crop_fraction(size: int) -> float:
    """The official eval crop fraction ``size / (size + size // 10)``: 224/246 at 224, 331/364 at 331."""
    return size / (size + size // 10)


def eval_crop_box(width: int, height: int, size: int = 224,
                  crop_fraction: float | None = None) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1), x1/y1 exclusive, of the central eval crop of a width x height image.

    Side = ``int(crop_fraction * min(H, W))`` and offset ``((H - side) + 1) // 2`` as in the official
    ``data_provider`` (``padded_center_crop_size``).
    """
    frac = default_crop_fraction(size) if crop_fraction is None else float(crop_fraction)
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"crop_fraction must be in (0, 1], got {frac}")
    side = max(1, int(frac * min(width, height)))
    y0 = ((height - side) + 1) // 2
    x0 = ((width - side) + 1) // 2
    return x0, y0, x0 + side, y0 + side


class CenterCropFraction:
    """Crop the central square of side ``crop_fraction * min(H, W)`` of a PIL image (no resize)."""

    def __init__(self, size: int = 224, crop_fraction: float | None = None):
        self.size = size
        self.crop_fraction = default_crop_fraction(size) if crop_fraction is None else crop_fraction

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.crop(eval_crop_box(img.width, img.height, self.size, self.crop_fraction))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, crop_fraction={self.crop_fraction:.4f})"


_f32 = np.float32


def _lrintf(value) -> int:
    """C ``lrintf``: round a float32 to the nearest integer, halves to even."""
    return int(np.rint(_f32(value)))


def _tf_generate_random_crop(width: int, height: int, min_rel: float, max_rel: float, aspect_ratio,
                             rng) -> tuple[int, int, int, int] | None:
    """TF's ``GenerateRandomCrop`` (sample_distorted_bounding_box_op.cc): (top, left, h, w) or None.

    float32 arithmetic as in the kernel. ``rng.randrange(n)`` plays ``SimplePhilox::Uniform(n)``
    (uniform in [0, n))."""
    ar = _f32(aspect_ratio)
    if max_rel <= 0.0 or ar <= 0.0 or width <= 0 or height <= 0 or min_rel > max_rel:
        return None
    min_area = _f32(min_rel) * _f32(width) * _f32(height)
    max_area = _f32(max_rel) * _f32(width) * _f32(height)
    h = _lrintf(np.sqrt(min_area / ar))
    max_h = _lrintf(np.sqrt(max_area / ar))
    if _lrintf(_f32(max_h) * ar) > width:
        # the largest max_h with round(max_h * ar) <= width (the kernel's double arithmetic)
        max_h = int((width + 0.5 - float(_f32(1e-7))) / float(ar))
        if _lrintf(_f32(max_h) * ar) > width:
            max_h -= 1
    max_h = min(max_h, height)
    if h >= max_h:
        h = max_h
    if h < max_h:
        h += rng.randrange(max_h - h + 1)  # closed range [h, max_h]
    w = _lrintf(_f32(h) * ar)
    area = _f32(w * h)
    if area < min_area:  # rounding: try one row more
        h += 1
        w = _lrintf(_f32(h) * ar)
        area = _f32(w * h)
    if area > max_area:  # ... or one row less
        h -= 1
        w = _lrintf(_f32(h) * ar)
        area = _f32(w * h)
    if area < min_area or area > max_area or w > width or h > height or w <= 0 or h <= 0:
        return None
    top = rng.randrange(height - h) if h < height else 0  # exclusive of the last position
    left = rng.randrange(width - w) if w < width else 0
    return top, left, h, w


def tf_sample_distorted_bounding_box(width: int, height: int, *, min_object_covered: float = 0.1,
                                     aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0),
                                     max_attempts: int = 100, rng=None) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop drawn as ``tf.image.sample_distorted_bounding_box`` with the whole
    image as the only object box (``bounding_boxes=[[[0, 0, 1, 1]]]``, as the official
    ``data_provider._random_crop``), re-implemented from TF's kernel:

    per attempt, aspect ratio ``ar = U[0, 1) * (max - min) + min`` (linear scale); integer height
    uniform in ``[round(sqrt(min_area / ar)), round(sqrt(max_area / ar))]`` (capped so that the
    width ``round(h * ar)`` and the height fit), one row more/less if rounding left the area
    outside ``area_range``; offsets ``top`` uniform in ``[0, H - h)``, ``left`` in ``[0, W - w)``
    (0 when the crop spans the image); accepted if ``h * w / (H * W) >= min_object_covered``.
    After ``max_attempts`` rejections: the whole image (0, 0, H, W).

    ``rng``: a ``random.Random`` (default: the ``random`` module, which the DataLoader seeds per
    worker). The stream of numbers differs from TF's Philox; the distribution is TF's.
    """
    rng = random if rng is None else rng
    lo, hi = _f32(aspect_ratio_range[0]), _f32(aspect_ratio_range[1])
    image_area = _f32(width * height)
    for _ in range(int(max_attempts)):
        ar = _f32(rng.random()) * (hi - lo) + lo
        crop = _tf_generate_random_crop(width, height, area_range[0], area_range[1], ar, rng)
        if crop is None:
            continue
        _, _, h, w = crop
        covered = _f32(h * w)
        if covered >= 1.0 and covered / image_area >= _f32(min_object_covered):
            return crop
    return 0, 0, height, width


def _check_choice(name: str, value: str, options) -> str:
    if value not in options:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(options)}")
    return value


class TF1Resize:
    """Float tensor (C, H, W) -> (C, size, size) with TF1's resize convention (``tf1_resize``)."""

    def __init__(self, size: int, interpolation: str = "bicubic"):
        self.size = int(size)
        self.mode = _check_choice("interpolation (with resize='tf1')", interpolation, ("bicubic", "bilinear"))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return tf1_resize(x[None], (self.size, self.size), self.mode)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, mode={self.mode})"


class InceptionCrop:
    """Random Inception-style crop, then resize to (size, size).

    ``crop="tf"`` (default): TF's ``sample_distorted_bounding_box`` (``tf_sample_distorted_bounding_box``:
    linear aspect ratio, uniform integer height, exclusive offsets; mean area 0.45 on a square
    image with the default ranges). ``crop="torchvision"``: area fraction uniform in ``scale``,
    log-uniform aspect ratio in ``ratio``, ``w, h = round(sqrt(area * ar)), round(sqrt(area / ar))``,
    offsets uniform inclusive (torchvision's ``RandomResizedCrop``; mean area 0.54), a crop must
    cover at least ``min_object_covered`` of the image. Both: after ``attempts`` failures the whole
    image (torchvision's own RandomResizedCrop tries 10 times and falls back to a central crop).

    ``resize="tf1"`` (default): the crop becomes a float tensor in [0, 1] and is resized with TF1's
    ``resize_bicubic`` convention (no antialiasing): returns a tensor (3, size, size).
    ``resize="pil"``: PIL resize with ``interpolation`` and antialiasing: returns a PIL image.
    """

    def __init__(self, size: int = 224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 min_object_covered: float = 0.1, attempts: int = 100,
                 interpolation: str = "bicubic", crop: str = "tf", resize: str = "tf1"):
        self.size = size
        self.scale = scale
        self.ratio = ratio
        self.min_object_covered = min_object_covered
        self.attempts = attempts
        self.crop = _check_choice("crop", crop, CROPS)
        self.resize = _check_choice("resize", resize, RESIZES)
        self.interpolation = interpolation_mode(interpolation)
        self._tf1 = TF1Resize(size, interpolation) if resize == "tf1" else None

    def get_params(self, width: int, height: int, rng=None) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a crop; the whole image when no attempt succeeds."""
        if self.crop == "tf":
            return tf_sample_distorted_bounding_box(
                width, height, min_object_covered=self.min_object_covered, aspect_ratio_range=self.ratio,
                area_range=self.scale, max_attempts=self.attempts, rng=rng)
        rng = random if rng is None else rng
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.attempts):
            frac = rng.uniform(*self.scale)
            if frac < self.min_object_covered:
                continue
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(area * frac * aspect)))
            h = int(round(math.sqrt(area * frac / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = rng.randint(0, height - h)
                left = rng.randint(0, width - w)
                return top, left, h, w
        return 0, 0, height, width

    def __call__(self, img: Image.Image):
        top, left, h, w = self.get_params(img.width, img.height)
        if self._tf1 is not None:
            return self._tf1(TF.to_tensor(img.crop((left, top, left + w, top + h))))
        return TF.resized_crop(img, top, left, h, w, [self.size, self.size],
                               interpolation=self.interpolation, antialias=True)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, crop={self.crop}, resize={self.resize}, "
                f"scale={self.scale}, ratio={self.ratio}, min_object_covered={self.min_object_covered}, "
                f"attempts={self.attempts})")


def train_transform(size: int = 224, *, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                    min_object_covered: float = 0.1, attempts: int = 100,
                    interpolation: str = "bicubic", hflip: bool = True, crop: str = "tf",
                    resize: str = "tf1", mean=IMAGENET_MEAN, std=IMAGENET_STD) -> T.Compose:
    """Paper training transform: PIL image -> float tensor (3, size, size), standardized.

    ``crop``: "tf" (official sampler) | "torchvision"; ``resize``: "tf1" (official float bicubic,
    no antialiasing) | "pil" (antialiased) -- see ``InceptionCrop``."""
    steps = [InceptionCrop(size, scale, ratio, min_object_covered, attempts, interpolation, crop, resize)]
    if hflip:
        steps.append(T.RandomHorizontalFlip())
    if resize == "pil":
        steps.append(T.ToTensor())
    steps.append(T.Normalize(mean, std))
    return T.Compose(steps)


def eval_transform(size: int = 224, crop_fraction: float | None = None, *,
                   interpolation: str = "bicubic", resize: str = "tf1",
                   mean=IMAGENET_MEAN, std=IMAGENET_STD) -> T.Compose:
    """Paper eval transform: central crop of ``crop_fraction * min(H, W)`` (default
    ``size/(size+size//10)``), bicubic resize to (size, size), standardize -> (3, size, size).

    ``resize="tf1"`` (default, official ``_center_crop``): TF1 ``resize_bicubic`` on the float crop;
    ``"pil"``: PIL's antialiased resize."""
    if _check_choice("resize", resize, RESIZES) == "tf1":
        steps = [CenterCropFraction(size, crop_fraction), T.ToTensor(), TF1Resize(size, interpolation)]
    else:
        steps = [CenterCropFraction(size, crop_fraction),
                 T.Resize((size, size), interpolation=interpolation_mode(interpolation), antialias=True),
                 T.ToTensor()]
    return T.Compose(steps + [T.Normalize(mean, std)])


def normalize_uint8(images: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """uint8 images (..., 3, H, W) -> float32 standardized with ``mean``/``std`` on the [0, 1] scale."""
    x = images.float().div_(255.0)
    m = torch.tensor(mean, dtype=x.dtype).view(3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(3, 1, 1)
    return x.sub_(m).div_(s)


def denormalize(images: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Inverse of the standardization: float (..., 3, H, W) -> [0, 1] (clamped), for display."""
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(3, 1, 1)
    return (images * s + m).clamp(0, 1)
