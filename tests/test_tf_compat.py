"""The official code's TF1 image ops (issue 12, items 4 and 8): TF1 resize convention
(``tf1_resize``), TF's ``sample_distorted_bounding_box`` crop sampler, the DRAM glimpse resize and
the DRAM stage's per-step loss switch."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from saccader.data.tf_resize import tf1_resize
from saccader.data.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, InceptionCrop, tf_sample_distorted_bounding_box, train_transform)


def _img(rows):
    return torch.tensor(rows, dtype=torch.float32)[None, None]


# ---------------------------------------------------------------- tf1_resize, values by hand
def test_tf1_bilinear_hand_values():
    ramp4 = torch.arange(16.0).view(1, 1, 4, 4)  # x[i, j] = 4 i + j
    # source = dst * 4/2 = 0, 2: the even pixels, no averaging (no half-pixel centres, no antialias)
    assert torch.equal(tf1_resize(ramp4, 2), _img([[0, 2], [8, 10]]))
    # PyTorch's half-pixel centres sample at 0.5, 2.5 instead
    half = F.interpolate(ramp4, size=2, mode="bilinear", align_corners=False)
    assert torch.equal(half, _img([[2.5, 4.5], [10.5, 12.5]]))
    ramp3 = torch.arange(9.0).view(1, 1, 3, 3)  # x[i, j] = 3 i + j; source = 0, 1.5
    assert torch.allclose(tf1_resize(ramp3, 2), _img([[0, 1.5], [4.5, 6.0]]))
    # upscale 2 -> 3: source 0, 2/3, 4/3; the last is clamped to the edge (upper = min(ceil, in - 1))
    assert torch.allclose(tf1_resize(_img([[0.0, 10.0]]), (1, 3)), _img([[0.0, 20 / 3, 10.0]]))
    # half-pixel: source -1/6 (clamped to 0), 1/2, 7/6 -> 0, 5, 10
    assert torch.allclose(F.interpolate(_img([[0.0, 10.0]]), size=(1, 3), mode="bilinear",
                                        align_corners=False), _img([[0.0, 5.0, 10.0]]))
    # same size: unchanged
    x = torch.randn(2, 3, 5, 7)
    assert tf1_resize(x, (5, 7)) is x


# Cubic convolution kernel with a = -0.75 (TF1's legacy resize_bicubic):
#   |s| <= 1: 1.25|s|^3 - 2.25|s|^2 + 1;   1 < |s| < 2: -0.75|s|^3 + 3.75|s|^2 - 6|s| + 3
# at a half-pixel position the 4 taps weigh k(1.5), k(0.5), k(0.5), k(1.5) = -0.09375, 0.59375,
# 0.59375, -0.09375 (Keys' a = -0.5 would give -0.0625, 0.5625).
def test_tf1_bicubic_hand_values():
    # 3 -> 2: source 0 (weights 0, 1, 0, 0: exactly pixel 0) and 1.5 (taps 0, 1, 2, 3 -> clamped 2)
    impulse = torch.zeros(1, 1, 3, 3)
    impulse[0, 0, 1, 1] = 1.0
    assert torch.allclose(tf1_resize(impulse, 2, "bicubic"), _img([[0, 0], [0, 0.59375 ** 2]]))
    corner = torch.zeros(1, 1, 3, 3)
    corner[0, 0, 2, 2] = 1.0  # the clamped tap repeats the edge pixel: 0.59375 - 0.09375 = 0.5
    assert torch.allclose(tf1_resize(corner, 2, "bicubic"), _img([[0, 0], [0, 0.25]]))
    # a ramp overshoots at the border (the repeated edge pixel): -0.09375*0 + 0.59375*1 + 0.5*2
    assert torch.allclose(tf1_resize(_img([[0.0, 1.0, 2.0]]), (1, 2), "bicubic"), _img([[0.0, 1.59375]]))
    # integer source positions (4 -> 2: 0 and 2) copy pixels
    ramp4 = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.allclose(tf1_resize(ramp4, 2, "bicubic"), _img([[0, 2], [8, 10]]))
    # fractional position rounded to 1/1024 (TF's coefficient table): 4 -> 3, output 1 sits at
    # source 4/3, delta 1/3 -> 341/1024; the weight of pixel 2 is k(1 - 341/1024) = k(683/1024)
    s = 683 / 1024
    k_near = 1.25 * s ** 3 - 2.25 * s ** 2 + 1
    row = tf1_resize(_img([[0.0, 0.0, 1.0, 0.0]]), (1, 3), "bicubic")
    assert abs(float(row[0, 0, 0, 1]) - k_near) < 1e-6
    assert abs(k_near - (1.25 * (2 / 3) ** 3 - 2.25 * (2 / 3) ** 2 + 1)) > 1e-4  # the rounding shows


def test_tf1_grid_offset_against_half_pixel():
    """The DRAM glimpse fields 150 and 224 px -> 77 px: TF1 samples column d at d * in/77, half-pixel
    centres at that + 0.5 (in/77 - 1): 0.47 and 0.95 source pixels further (issue 12, item 8a)."""
    for n, shift in ((150, 0.474), (224, 0.955)):
        ramp = torch.arange(float(n)).expand(1, 1, n, n).contiguous()  # value = column index
        tf1 = tf1_resize(ramp, 77)[0, 0, 0]
        half = F.interpolate(ramp, size=77, mode="bilinear", align_corners=False)[0, 0, 0]
        assert torch.allclose(tf1, torch.arange(77.0) * n / 77, atol=1e-4)
        assert torch.allclose((half - tf1)[1:-1], torch.full((75,), shift), atol=2e-3)


def test_tf1_resize_is_differentiable_and_checks_input():
    x = torch.randn(1, 2, 9, 7, requires_grad=True)
    tf1_resize(x, (4, 5), "bicubic").sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="mode"):
        tf1_resize(x, 4, "nearest")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        tf1_resize(x[0], 4)


# ---------------------------------------------------------------- TF crop sampler
def _params(crop: str, n: int, size: int = 500, seed: int = 0):
    c, rng = InceptionCrop(224, crop=crop), random.Random(seed)
    return np.array([c.get_params(size, size, rng) for _ in range(n)])  # (top, left, h, w)


def test_tf_crop_distribution_on_a_square_image():
    """TF: aspect ratio uniform on a linear scale, integer height uniform between the area bounds;
    on a square image the mean area is 0.421 (a ~ ar h^2 with h uniform, capped at S / ar for
    ar > 1, crops under 10 % rejected). torchvision's scheme (area uniform, log-uniform ratio):
    0.488. Both computed by the vectorized continuous model below, independently of the sampler."""
    n, size = 20000, 500
    tf, tv = _params("tf", n, size), _params("torchvision", n, size)
    area_tf = tf[:, 2] * tf[:, 3] / size ** 2
    area_tv = tv[:, 2] * tv[:, 3] / size ** 2
    # the continuous model of each sampler
    g = np.random.default_rng(1)
    ar = g.uniform(0.75, 4 / 3, 10 ** 6)
    h = g.uniform(np.sqrt(0.08 / ar), np.minimum(1.0, 1.0 / ar))
    a = ar * h * h
    expect_tf = a[a >= 0.1].mean()
    f = g.uniform(0.08, 1.0, 10 ** 6)
    r = np.exp(g.uniform(math.log(0.75), math.log(4 / 3), 10 ** 6))
    ok = (f >= 0.1) & (f * r <= 1) & (f / r <= 1)
    expect_tv = f[ok].mean()
    assert abs(expect_tf - 0.421) < 0.003 and abs(expect_tv - 0.488) < 0.003
    assert abs(area_tf.mean() - expect_tf) < 0.008, area_tf.mean()
    assert abs(area_tv.mean() - expect_tv) < 0.008, area_tv.mean()
    assert area_tf.min() >= 0.1 and area_tf.max() <= 1.0
    # aspect ratio: quantiles of a linear-uniform on [3/4, 4/3] (median 1.042), not log-uniform (1.0)
    q = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    ratio_tf, ratio_tv = tf[:, 3] / tf[:, 2], tv[:, 3] / tv[:, 2]
    linear = 0.75 + q * (4 / 3 - 0.75)
    log = np.exp(np.log(0.75) + q * (np.log(4 / 3) - np.log(0.75)))
    assert np.abs(np.quantile(ratio_tf, q) - linear).max() < 0.015
    assert abs(np.median(ratio_tv) - 1.0) < 0.01 and abs(np.median(ratio_tf) - 1.0) > 0.03
    assert np.abs(np.quantile(ratio_tf, q) - log).max() > 0.03
    # offsets: uniform in [0, S - h), exclusive: a crop smaller than the image never reaches the
    # last row/column; torchvision's inclusive offsets do
    for p in (tf, tv):
        assert (p[:, 0] >= 0).all() and (p[:, 1] >= 0).all()
    part = tf[:, 2] < size
    assert (tf[part, 0] + tf[part, 2]).max() == size - 1
    assert (tf[tf[:, 3] < size, 1] + tf[tf[:, 3] < size, 3]).max() == size - 1
    assert (tv[:, 0] + tv[:, 2]).max() == size


def test_tf_crop_integer_rules_and_fallback():
    rng = random.Random(5)
    for _ in range(2000):
        top, left, h, w = tf_sample_distorted_bounding_box(400, 300, rng=rng)
        assert 0 <= top and top + h <= 300 and 0 <= left and left + w <= 400
        assert top + h < 300 or (top, h) == (0, 300)
        assert h * w >= 0.1 * 400 * 300
    # an impossible request falls back to the whole image
    assert tf_sample_distorted_bounding_box(50, 50, area_range=(0.99, 1.0),
                                            aspect_ratio_range=(3.0, 3.0)) == (0, 0, 50, 50)


def test_default_train_transform_is_tf_crop_then_tf1_bicubic():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8))
    random.seed(3)
    out = train_transform(64, hflip=False)(img)
    random.seed(3)
    top, left, h, w = tf_sample_distorted_bounding_box(90, 70)
    ref = tf1_resize(TF.to_tensor(img.crop((left, top, left + w, top + h)))[None], 64, "bicubic")[0]
    assert torch.allclose(out, TF.normalize(ref, IMAGENET_MEAN, IMAGENET_STD), atol=1e-6)
    pil = train_transform(64, crop="torchvision", resize="pil")
    assert pil.transforms[0].crop == "torchvision" and pil(img).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="crop="):
        train_transform(64, crop="inception")


def test_crop_and_resize_are_dataset_keywords_of_the_imagenet_preset(tmp_path):
    from imagenet_tree import write_imagenet_tree
    from saccader.data import build_dataset
    from saccader.train.config import ConfigError
    from saccader.train.presets import resolve_config

    cfg = resolve_config("representation", "imagenet", data_dir="/data/imagenet")
    assert cfg.dataset_kwargs == {"crop": "tf", "resize": "tf1"}
    cfg = resolve_config("representation", "imagenet", data_dir="/data/imagenet",
                         overrides={"dataset_kwargs.crop": "torchvision", "dataset_kwargs.resize": "pil"})
    assert cfg.dataset_kwargs == {"crop": "torchvision", "resize": "pil"}
    with pytest.raises(ConfigError, match="dataset_kwargs.crop"):
        resolve_config("representation", "imagenet", data_dir="/d", overrides={"dataset_kwargs.crop": "x"})
    tree = write_imagenet_tree(tmp_path / "imagenet")
    ds = build_dataset("imagenet", "train", data_dir=tree, crop="torchvision", resize="pil")
    assert (ds.transform.transforms[0].crop, ds.transform.transforms[0].resize) == ("torchvision", "pil")
    ds = build_dataset("imagenet", "train", data_dir=tree)
    assert (ds.transform.transforms[0].crop, ds.transform.transforms[0].resize) == ("tf", "tf1")


# ---------------------------------------------------------------- DRAM (item 8)
def test_dram_glimpse_fields_use_tf1_resize_by_default():
    from saccader.models import create_model
    from saccader.models.dram import extract_glimpses, position_channels

    torch.manual_seed(0)
    images = torch.randn(2, 3, 96, 96)
    loc = torch.tensor([[0.1, -0.3], [-0.5, 0.6]])
    src = torch.cat([images, position_channels(images)], dim=1)
    tf1 = create_model("dram_tiny")
    half = create_model("dram_tiny", glimpse_resize="half_pixel")
    assert tf1.glimpse_resize == "tf1"
    a, b = tf1.glimpse_input(images, loc, use_all=True), half.glimpse_input(images, loc, use_all=True)
    assert torch.equal(a[:, :5], b[:, :5])  # the 33-px field is not resized
    for r, size in ((1, 64), (2, 96)):
        crop = extract_glimpses(src, loc, size)
        assert torch.allclose(a[:, 5 * r:5 * r + 5], tf1_resize(crop, 33), atol=1e-6)
        assert torch.allclose(b[:, 5 * r:5 * r + 5],
                              F.interpolate(crop, size=33, mode="bilinear", align_corners=False), atol=1e-6)
        assert (a[:, 5 * r:5 * r + 5] - b[:, 5 * r:5 * r + 5]).abs().max() > 0.1
    with pytest.raises(ValueError, match="glimpse_resize"):
        create_model("dram_tiny", glimpse_resize="tf2")


def test_dram_xent_final_or_per_step():
    from saccader.models import create_model
    from saccader.models.dram import DRAMOutput
    from saccader.train.presets import resolve_config
    from saccader.train.stages import dram_loss

    net = create_model("dram_tiny")
    labels = torch.tensor([1, 2])
    step = torch.full((2, 3, 4), -2.0)  # (B, T, C); correct at (0, 0), (0, 2), (1, 2)
    for b, t, c in ((0, 0, 1), (0, 1, 3), (0, 2, 1), (1, 0, 0), (1, 1, 3), (1, 2, 2)):
        step[b, t, c] = 2.0 + t
    log_prob = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], requires_grad=True)
    out = DRAMOutput(logits=step[:, -1], step_logits=step, locations=torch.zeros(2, 3, 2),
                     location_mean=torch.zeros(2, 3, 2), log_prob=log_prob)

    def model(images, num_glimpses):
        return out

    cfg = resolve_config("dram", "tiny")
    assert cfg.dram_xent == "final"
    _, final = dram_loss(model, net, None, labels, cfg)
    assert torch.allclose(final["xent"], F.cross_entropy(step[:, -1], labels))
    assert float(final["reinforce"]) == 0.0  # both final predictions right: no advantage
    cfg = resolve_config("dram", "tiny", overrides={"dram_xent": "per_step"})
    _, per = dram_loss(model, net, None, labels, cfg)
    ce = torch.stack([F.cross_entropy(step[:, t], labels) for t in range(3)]).mean()
    assert torch.allclose(per["xent"], ce)
    r = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # reward of each step's own prediction
    assert torch.allclose(per["reinforce"], -((r - 0.5) * log_prob.detach()).mean())
