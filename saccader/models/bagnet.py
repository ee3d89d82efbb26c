"""BagNet with valid convolutions and a low-dimensional head (SPEC 2.2): the representation network.

A ResNet-50-like network with no padding anywhere, a 3x3 stem and no max-pool; only the first
``kernel3[i]`` bottlenecks of group i have a 3x3 middle convolution, the rest are all 1x1. Every
output cell therefore sees a bounded square of the image (its receptive field)::

    images            (B, 3, S, S)
    stem  3x3 valid   (B, 64w, S-2, S-2)
    group0..3         (B, 2048w, G, G)     -> "features2d"     (G = 19 at S = 224 with kernel3 2,2,2,2)
    lowD 1x1+BN+ReLU  (B, 512w, G, G)      -> "features2d_lowd" (the "what" features)
    logits2d 1x1+bias (B, C, G, G)         -> "logits2d"       (per-cell class logits)
    mean over cells   (B, C)               -> "logits"         (BagNet on the full image)

kernel3 = (2, 2, 2, 2) gives a 77-px receptive field, (1, 1, 1, 1) 33, (1, 1, 1, 0) 17,
(1, 1, 0, 0) 9; the total stride is 8 (group strides 2, 2, 2, 1).

Quirk of the official code, kept by default (``downsample_bn_on_main=True``): in a block with a
projection shortcut, the batch norm of the ``downsample`` scope normalizes the *main* branch (after
the third conv's BN), and the shortcut's 1x1 conv has no BN. The paper's parameter counts include
this BN (Table Supp.1). ``False`` gives the usual ResNet shortcut (conv + BN).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from saccader.geometry import receptive_field_size

from .init import check_init, glorot_uniform_
from .registry import ModelCfg, register_model

# TF batch norm momentum 0.9 (= PyTorch 0.1), eps 1e-5 (SPEC 3.5)
BN_MOMENTUM = 0.1
BN_EPS = 1e-5


def _bn(channels: int, zero_init: bool = False) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)
    if zero_init:
        nn.init.zeros_(bn.weight)
    return bn


@dataclass(frozen=True)
class BagNetConfig:
    """Keyword hyperparameters of :class:`BagNet` (defaults: BagNet-77-lowD, SPEC 2.2)."""

    blocks: tuple[int, ...] = (3, 4, 6, 3)
    planes: tuple[int, ...] = (64, 128, 256, 512)
    strides: tuple[int, ...] = (2, 2, 2, 1)
    kernel3: tuple[int, ...] = (2, 2, 2, 2)
    expansion: int = 4
    stem_channels: int = 64
    width: float = 1.0
    final_bottleneck: bool = True  # the "lowD" 1x1 2048 -> 512 before the logits
    num_classes: int = 1001
    downsample_bn_on_main: bool = True
    init: str = "official"  # "official": tf.layers defaults (glorot-uniform, zero biases) | "torch" (see _init_weights)

    def __post_init__(self):
        check_init(self.init)
        n = len(self.blocks)
        for name in ("planes", "strides", "kernel3"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"BagNetConfig.{name} must have one entry per group ({n}), got {getattr(self, name)}")
        for k, b in zip(self.kernel3, self.blocks):
            if not 0 <= k <= b:
                raise ValueError(f"kernel3 entries must be between 0 and the group's block count; got {self.kernel3} for blocks {self.blocks}")
        if self.width <= 0:
            raise ValueError(f"width must be > 0, got {self.width}")

    def channels(self, c: int) -> int:
        return max(1, int(round(c * self.width)))

    def conv_ops(self) -> list[tuple[int, int]]:
        """(kernel, stride) of every convolution on the path from the image to a cell, in order."""
        ops = [(3, 1)]
        for blocks, stride, k3 in zip(self.blocks, self.strides, self.kernel3):
            for i in range(blocks):
                ops += [(1, 1), (3 if i < k3 else 1, stride if i == 0 else 1), (1, 1)]
        return ops

    @property
    def receptive_field(self) -> int:
        return receptive_field_size(self.conv_ops())[0]

    @property
    def total_stride(self) -> int:
        s = 1
        for k, st in self.conv_ops():
            s *= st
        return s

    def grid_size(self, image_size: int) -> int:
        return receptive_field_size(self.conv_ops(), image_size)[1]


class Bottleneck(nn.Module):
    """1x1 -> k x k (stride, valid) -> 1x1 (x expansion), residual add, ReLU (official ``bottleneck``)."""

    def __init__(self, in_ch: int, planes: int, kernel_size: int, stride: int, expansion: int = 4,
                 downsample_bn_on_main: bool = True):
        super().__init__()
        out_ch = planes * expansion
        self.kernel_size = kernel_size
        self.conv_a = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn_a = _bn(planes)
        self.conv_b = nn.Conv2d(planes, planes, kernel_size, stride=stride, bias=False)
        self.bn_b = _bn(planes)
        self.conv_c = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn_c = _bn(out_ch, zero_init=True)
        self.downsample_bn_on_main = downsample_bn_on_main
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
            self.bn_downsample = _bn(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.relu(self.bn_a(self.conv_a(x)))
        net = self.relu(self.bn_b(self.conv_b(net)))
        net = self.bn_c(self.conv_c(net))
        residual = x
        if self.kernel_size == 3:  # match the valid 3x3: drop one pixel on each side
            residual = residual[:, :, 1:-1, 1:-1]
        if self.shortcut is not None:
            residual = self.shortcut(residual)
            if self.downsample_bn_on_main:
                net = self.bn_downsample(net)
            else:
                residual = self.bn_downsample(residual)
        return self.relu(net + residual)


class BagNet(nn.Module):
    """Valid-convolution BagNet. ``forward(images) -> dict`` with ``features2d``,
    ``features2d_lowd`` (when ``final_bottleneck``), ``logits2d`` (B, C, G, G) and ``logits`` (B, C)."""

    def __init__(self, config: BagNetConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = BagNetConfig(**kwargs)
        elif kwargs:
            config = BagNetConfig(**{**asdict(config), **kwargs})
        self.config = c = config
        stem = c.channels(c.stem_channels)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, bias=False), _bn(stem), nn.ReLU(inplace=True))
        in_ch = stem
        groups = []
        for blocks, planes, stride, k3 in zip(c.blocks, c.planes, c.strides, c.kernel3):
            p = c.channels(planes)
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(in_ch, p, 3 if i < k3 else 1, stride if i == 0 else 1,
                                         c.expansion, c.downsample_bn_on_main))
                in_ch = p * c.expansion
            groups.append(nn.Sequential(*layers))
        self.groups = nn.Sequential(*groups)
        self.features_channels = in_ch
        if c.final_bottleneck:
            self.lowd = nn.Sequential(nn.Conv2d(in_ch, in_ch // 4, 1, bias=False), _bn(in_ch // 4),
                                      nn.ReLU(inplace=True))
            in_ch = in_ch // 4
        else:
            self.lowd = None
        self.lowd_channels = in_ch
        self.logits2d = nn.Conv2d(in_ch, c.num_classes, 1, bias=True)
        self._init_weights()

    def _init_weights(self) -> None:
        """``init="official"``: what the TF code's ``tf.layers.conv2d`` does, glorot-uniform kernels
        and zero biases on every conv (stem, bottlenecks, shortcuts, lowD, logits2d). ``"torch"``:
        kaiming-normal (fan_out) convs and N(0, 0.01) logits2d. Both: BN gamma 1, beta 0, and gamma 0
        on the last BN of every bottleneck (``bn_c``; the downsample BN keeps gamma 1, as in the code)."""
        if self.config.init == "official":
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    glorot_uniform_(m)
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.logits2d.weight, std=0.01)
        nn.init.zeros_(self.logits2d.bias)

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    @property
    def stride(self) -> int:
        return self.config.total_stride

    def grid_size(self, image_size: int) -> int:
        return self.config.grid_size(image_size)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"BagNet expects images (B, 3, H, W), got {tuple(images.shape)}")
        if min(images.shape[-2:]) < self.receptive_field:
            raise ValueError(f"images of {tuple(images.shape[-2:])} px are smaller than the receptive field "
                             f"({self.receptive_field} px); resize them to the model's input size")
        out = {}
        f = self.groups(self.stem(images))
        out["features2d"] = f
        if self.lowd is not None:
            f = self.lowd(f)
            out["features2d_lowd"] = f
        logits2d = self.logits2d(f)
        out["logits2d"] = logits2d
        out["logits"] = logits2d.mean(dim=(2, 3))
        return out


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------

TINY = dict(blocks=(2, 2, 2, 2), kernel3=(1, 1, 1, 1), width=0.25)  # RF 33, stride 8


def bagnet_model_cfg(name: str, bagnet: BagNetConfig, image_size: int, **extra) -> ModelCfg:
    """The registry entry of a BagNet-based model: glimpse = receptive field, grid from the arithmetic."""
    rf = bagnet.receptive_field
    fields = dict(name=name, input_size=(3, image_size, image_size), glimpse_size=rf,
                  grid_size=bagnet.grid_size(image_size), stride=bagnet.total_stride, receptive_field=rf,
                  num_classes=bagnet.num_classes)
    fields.update(extra)
    return ModelCfg(**fields)


_TINY_PREPROC = dict(num_classes=10, label_offset=0, crop_fraction=1.0)


def _bagnet_factory(defaults: dict):
    def build(cfg: ModelCfg, **kwargs) -> BagNet:
        kw = {**defaults, **kwargs, "num_classes": cfg.num_classes}
        return BagNet(BagNetConfig(**kw))

    return build


for _name, _kernel3 in (("bagnet9_lowd", (1, 1, 0, 0)), ("bagnet17_lowd", (1, 1, 1, 0)),
                        ("bagnet33_lowd", (1, 1, 1, 1)), ("bagnet77_lowd", (2, 2, 2, 2))):
    register_model(bagnet_model_cfg(_name, BagNetConfig(kernel3=_kernel3), 224))(
        _bagnet_factory({"kernel3": _kernel3}))

register_model(bagnet_model_cfg("bagnet33_tiny", BagNetConfig(**TINY, num_classes=10), 96, **_TINY_PREPROC))(
    _bagnet_factory(TINY))

__all__ = ["BagNet", "BagNetConfig", "Bottleneck", "TINY", "bagnet_model_cfg"]
