"""Image transforms of the paper's ImageNet pipeline (SPEC 3.6), built from torchvision pieces.

* Train: Inception-style random crop (``sample_distorted_bounding_box`` with the whole image as the
  box: area 8-100 % of the image, aspect ratio 3/4-4/3, at least 10 % of the image covered, 100
  attempts, falling back to the whole image), bicubic resize, random horizontal flip, ``ToTensor``,
  standardization with the torchvision mean/std.
* Eval: central square crop of side ``size / (size + size // 10) * min(H, W)`` (224/246 at 224,
  331/364 at 331), bicubic resize, standardization.

All transforms take a PIL image and return a float tensor (3, size, size).
"""
from __future__ import annotations

import math
import random

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

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


class InceptionCrop:
    """Random crop as TF ``sample_distorted_bounding_box`` with the whole image as the object box.

    Area fraction uniform in ``scale``, log-uniform aspect ratio in ``ratio``, a crop must cover at
    least ``min_object_covered`` of the image; after ``attempts`` failures the whole image is used
    (torchvision's RandomResizedCrop tries 10 times and falls back to a central crop instead).
    The crop is then resized to (size, size) with ``interpolation``.
    """

    def __init__(self, size: int = 224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 min_object_covered: float = 0.1, attempts: int = 100,
                 interpolation: str = "bicubic"):
        self.size = size
        self.scale = scale
        self.ratio = ratio
        self.min_object_covered = min_object_covered
        self.attempts = attempts
        self.interpolation = interpolation_mode(interpolation)

    def get_params(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a crop; the whole image when no attempt succeeds."""
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.attempts):
            frac = random.uniform(*self.scale)
            if frac < self.min_object_covered:
                continue
            aspect = math.exp(random.uniform(*log_ratio))
            w = int(round(math.sqrt(area * frac * aspect)))
            h = int(round(math.sqrt(area * frac / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = random.randint(0, height - h)
                left = random.randint(0, width - w)
                return top, left, h, w
        return 0, 0, height, width

    def __call__(self, img: Image.Image) -> Image.Image:
        top, left, h, w = self.get_params(img.width, img.height)
        return TF.resized_crop(img, top, left, h, w, [self.size, self.size],
                               interpolation=self.interpolation, antialias=True)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"min_object_covered={self.min_object_covered}, attempts={self.attempts})")


def train_transform(size: int = 224, *, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                    min_object_covered: float = 0.1, attempts: int = 100,
                    interpolation: str = "bicubic", hflip: bool = True,
                    mean=IMAGENET_MEAN, std=IMAGENET_STD) -> T.Compose:
    """Paper training transform: PIL image -> float tensor (3, size, size), standardized."""
    steps = [InceptionCrop(size, scale, ratio, min_object_covered, attempts, interpolation)]
    if hflip:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


def eval_transform(size: int = 224, crop_fraction: float | None = None, *,
                   interpolation: str = "bicubic",
                   mean=IMAGENET_MEAN, std=IMAGENET_STD) -> T.Compose:
    """Paper eval transform: central crop of ``crop_fraction * min(H, W)`` (default
    ``size/(size+size//10)``), bicubic resize to (size, size), standardize -> (3, size, size)."""
    return T.Compose([
        CenterCropFraction(size, crop_fraction),
        T.Resize((size, size), interpolation=interpolation_mode(interpolation), antialias=True),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


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
