"""DRAM baseline (Ba, Mnih & Kavukcuoglu 2015) as reimplemented by the Saccader authors (SPEC 8.1).

Data flow for one image batch ``x`` (B, 3, S, S) and T glimpses::

    pre-time (context) step, location (0, 0), all R resolutions
        g   = GlimpseNet(glimpses(x, l=0))               (B, F)
        h0  = LSTM0(g, 0)        -> discarded afterwards (LSTM0 state reset to 0)
        h1  = LSTM1(h0, 0)       -> location state kept
        mu  = location_scale * tanh(W_e h1 + b_e)        (B, 2)
        l_0 = mu + N(0, 0.1^2) clipped (training) or mu (eval)
    step t = 0..T-1
        g_t = GlimpseNet(glimpses(x, l_t))  (only the high-res glimpse if limit_classification_rf)
        h0  = LSTM0(g_t, s0);  z_t = W_c h0 + b_c        (B, C)  step logits
        h1  = LSTM1(h0, s1);   mu_{t+1}, l_{t+1} as above

Locations are (y, x) in [-1, 1] (row first, as in the official code): (-1, -1) is the top-left
corner. A glimpse of side ``s`` at location ``l`` of an ``S`` image starts at pixel
``int((S * (l + 3) - s) / 2) - S``, i.e. it is centred near ``(l + 1) / 2 * S``; pixels outside the
image are replaced by the nearest edge pixel. Because ``|l| <= location_scale = 1 - g / S`` the
high-resolution glimpse always lies inside the image.

The glimpse network is slim's ``resnet_v2_50`` (pre-activation, stride on the *last* unit of each
group, biases on the root conv, on the projection shortcuts and on every third conv of a
bottleneck), built here because timm's ``resnetv2_50`` differs (stride on the first unit, no conv
biases: 19,008 parameters fewer). With 15 input channels, 1001 classes and TF-style LSTMs (one
bias vector per cell) the whole model has 45,610,219 parameters counting BN moving statistics,
as in Table Supp.1 of the paper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from saccader.data.tf_resize import tf1_resize

from .init import check_init, slim_init_
from .registry import ModelCfg, register_model

__all__ = [
    "DRAM",
    "DRAMOutput",
    "ResNetV2Slim",
    "TFLSTMCell",
    "extract_glimpses",
    "multi_resolution_sizes",
    "position_channels",
]


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
@dataclass
class DRAMOutput:
    """What :class:`DRAM` returns.

    logits         (B, C)     final prediction (last step's logits, or their mean over T).
    step_logits    (B, T, C)  classification logits after each glimpse.
    locations      (B, T, 2)  (y, x) normalized locations actually glimpsed (samples in training).
    location_mean  (B, T, 2)  emitted means that the locations were drawn from.
    log_prob       (B, T)     log N(locations; location_mean, std^2), summed over (y, x); carries the
                              gradient to the location LSTM and the emission head (REINFORCE).
    """

    logits: torch.Tensor
    step_logits: torch.Tensor
    locations: torch.Tensor
    location_mean: torch.Tensor
    log_prob: torch.Tensor


# --------------------------------------------------------------------------------------------
# Glimpse extraction
# --------------------------------------------------------------------------------------------
def position_channels(images: torch.Tensor) -> torch.Tensor:
    """Two coordinate channels (B, 2, H, W): row position then column position, each linspace(-1, 1)."""
    b, _, h, w = images.shape
    ys = torch.linspace(-1.0, 1.0, h, device=images.device, dtype=images.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=images.device, dtype=images.dtype)
    pos = torch.stack([ys[:, None].expand(h, w), xs[None, :].expand(h, w)], dim=0)
    return pos.unsqueeze(0).expand(b, 2, h, w)


def glimpse_top_left(locations: torch.Tensor, image_size: int, size: int) -> torch.Tensor:
    """Top-left pixel (B, 2) long of a ``size`` glimpse centred at normalized ``locations`` (B, 2).

    Same rule as the official ``utils.extract_glimpse``: ``int((S * (l + 3) - size) / 2) - S``.
    The argument of ``int`` is always positive for ``l >= -1`` so truncation equals floor.
    """
    s = float(image_size)
    return torch.floor((s * (locations.float() + 3.0) - float(size)) / 2.0).long() - int(image_size)


def extract_glimpses(images: torch.Tensor, locations: torch.Tensor, size: int) -> torch.Tensor:
    """Crop a ``size`` x ``size`` window per image at ``locations`` (B, 2) in (y, x) order.

    images (B, C, H, W) -> (B, C, size, size). Integer crop (no interpolation); pixels outside the
    image replicate the nearest edge pixel. Differentiable w.r.t. ``images`` (callers detach).
    """
    if images.dim() != 4 or locations.shape != (images.shape[0], 2):
        raise ValueError(
            f"extract_glimpses expects images (B, C, H, W) and locations (B, 2); got "
            f"{tuple(images.shape)} and {tuple(locations.shape)}"
        )
    b, c, h, w = images.shape
    ar = torch.arange(int(size), device=images.device)
    top = glimpse_top_left(locations[:, 0:1], h, size)  # (B, 1)
    left = glimpse_top_left(locations[:, 1:2], w, size)
    rows = (top + ar).clamp_(0, h - 1)  # (B, size)
    cols = (left + ar).clamp_(0, w - 1)
    out = images.gather(2, rows[:, None, :, None].expand(b, c, size, w))
    out = out.gather(3, cols[:, None, None, :].expand(b, c, size, size))
    return out


def multi_resolution_sizes(image_size: int, glimpse_size: int, num_resolutions: int) -> list[int]:
    """Side of each field of view: linspace(g / S, 1, R) * S, the first one exactly ``glimpse_size``.

    224 px, 77 px, 3 resolutions -> [77, 150, 224]; 96 px, 33 px -> [33, 64, 96].
    """
    if num_resolutions < 1:
        raise ValueError(f"num_resolutions must be >= 1, got {num_resolutions}")
    sizes = [int(glimpse_size)]
    if num_resolutions > 1:
        fovs = torch.linspace(glimpse_size / image_size, 1.0, num_resolutions, dtype=torch.float32)
        sizes += [int(float(fovs[i]) * image_size) for i in range(1, num_resolutions)]
    return sizes


# --------------------------------------------------------------------------------------------
# Glimpse network: slim resnet_v2 (pre-activation)
# --------------------------------------------------------------------------------------------
def _bn(channels: int, momentum: float, eps: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=momentum, eps=eps)


class _BottleneckV2(nn.Module):
    """slim ``resnet_v2.bottleneck``: BN-ReLU pre-activation, 1x1 -> 3x3(stride) -> 1x1(+bias).

    Shortcut: identity subsampled by ``stride`` when the depth is unchanged, else a 1x1 conv (+bias)
    on the pre-activation.

    slim names the BN of a conv built with ``normalizer_fn`` ``<conv>/BatchNorm``, so the official
    ``normalized_l2_loss`` ("Norm" not in the name) leaves out ``bn1`` and ``bn2`` (conv1/BatchNorm,
    conv2/BatchNorm) but keeps ``preact`` and the network's ``postnorm``: ``l2_exempt_norms``
    tells :func:`saccader.losses.l2_parameters` so.
    """

    l2_exempt_norms = ("bn1", "bn2")

    def __init__(self, in_ch: int, depth: int, bottleneck: int, stride: int, bn_momentum: float, bn_eps: float):
        super().__init__()
        self.stride = int(stride)
        self.preact = _bn(in_ch, bn_momentum, bn_eps)
        self.shortcut = nn.Conv2d(in_ch, depth, 1, stride=stride, bias=True) if in_ch != depth else None
        self.conv1 = nn.Conv2d(in_ch, bottleneck, 1, bias=False)
        self.bn1 = _bn(bottleneck, bn_momentum, bn_eps)
        # slim conv2d_same: explicit symmetric pad (k - 1) // 2 for stride > 1, SAME for stride 1;
        # both are padding=1 for a 3x3 kernel.
        self.conv2 = nn.Conv2d(bottleneck, bottleneck, 3, stride=stride, padding=1, bias=False)
        self.bn2 = _bn(bottleneck, bn_momentum, bn_eps)
        self.conv3 = nn.Conv2d(bottleneck, depth, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.preact(x))
        if self.shortcut is not None:
            sc = self.shortcut(pre)
        else:
            sc = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        r = F.relu(self.bn1(self.conv1(pre)))
        r = F.relu(self.bn2(self.conv2(r)))
        return sc + self.conv3(r)


def _tf_same_max_pool(x: torch.Tensor, kernel: int = 3, stride: int = 2) -> torch.Tensor:
    """Max pool with TensorFlow 'SAME' padding (extra padding goes after, padded values ignored)."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        out = math.ceil(n / stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    if any(pads):
        x = F.pad(x, pads, value=float("-inf"))
    return F.max_pool2d(x, kernel, stride)


class ResNetV2Slim(nn.Module):
    """slim ``resnet_v2`` without logits, global average pooled: (B, in_chans, H, W) -> (B, 2048*width).

    Root: 7x7/2 conv with bias (no BN, no ReLU) + 3x3/2 max pool (TF SAME). Groups of bottlenecks with
    base depths 64, 128, 256, 512 (times ``width``), output depth 4x base, the stride on the *last*
    unit of each group (strides 2, 2, 2, 1). Final BN + ReLU ("postnorm"), then the spatial mean.

    ``blocks=(3, 4, 6, 3)``, ``width=1`` is resnet_v2_50 (23,602,432 parameters incl. BN statistics at
    15 input channels).
    """

    def __init__(
        self,
        in_chans: int = 15,
        blocks: Sequence[int] = (3, 4, 6, 3),
        width: float = 1.0,
        strides: Sequence[int] = (2, 2, 2, 1),
        bn_momentum: float = 0.003,
        bn_eps: float = 1e-5,
        init: str = "official",
    ):
        super().__init__()
        self.init = check_init(init)
        if len(blocks) != len(strides):
            raise ValueError(f"blocks {tuple(blocks)} and strides {tuple(strides)} must have the same length")
        root = max(1, int(round(64 * width)))
        self.root = nn.Conv2d(in_chans, root, 7, stride=2, padding=3, bias=True)
        layers: list[nn.Module] = []
        in_ch = root
        for g, (n, s) in enumerate(zip(blocks, strides)):
            base = max(1, int(round(64 * (2**g) * width)))
            depth = 4 * base
            for u in range(int(n)):
                layers.append(_BottleneckV2(in_ch, depth, base, s if u == n - 1 else 1, bn_momentum, bn_eps))
                in_ch = depth
        self.blocks = nn.Sequential(*layers)
        self.postnorm = _bn(in_ch, bn_momentum, bn_eps)
        self.num_features = in_ch
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``init="official"``: slim's ``resnet_arg_scope`` (the code builds the glimpse net through
        ``nets_factory``, which applies it): variance scaling (factor 2, fan_in, truncated normal),
        zero biases, BN gamma 1 and beta 0. ``"torch"``: kaiming-normal (fan_in), not truncated."""
        if self.init == "official":
            slim_init_(self, "fan_in")
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _tf_same_max_pool(self.root(x), 3, 2)
        x = F.relu(self.postnorm(self.blocks(x)))
        return x.mean(dim=(2, 3))


# --------------------------------------------------------------------------------------------
# Recurrent core
# --------------------------------------------------------------------------------------------
class TFLSTMCell(nn.Module):
    """LSTM cell with TensorFlow's parameterisation: one kernel over [x, h] and ONE bias of 4*units
    (PyTorch's nn.LSTMCell has two). Gate order (i, j, f, o) and ``forget_bias`` added to f at run time.

    x (B, input_size), state (h, c) each (B, hidden_size) -> (h', (h', c')).
    """

    def __init__(self, input_size: int, hidden_size: int, forget_bias: float = 1.0):
        super().__init__()
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.forget_bias = float(forget_bias)
        self.kernel = nn.Linear(self.input_size + self.hidden_size, 4 * self.hidden_size, bias=True)
        nn.init.xavier_uniform_(self.kernel.weight)  # TF get_variable default (glorot uniform)
        nn.init.zeros_(self.kernel.bias)

    def zero_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = like.new_zeros(batch, self.hidden_size)
        return z, z

    def forward(self, x, state):
        h, c = state
        i, j, f, o = self.kernel(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f + self.forget_bias) * c + torch.sigmoid(i) * torch.tanh(j)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


# --------------------------------------------------------------------------------------------
# DRAM
# --------------------------------------------------------------------------------------------
class DRAM(nn.Module):
    """Deep Recurrent Attention Model, the Saccader authors' variant (SPEC 8.1).

    Args (keywords):
        num_classes: classifier outputs (1001 for ImageNet with a background slot 0).
        image_size: side S of the (square) input image.
        glimpse_size: side g of the high-resolution glimpse; every resolution is resized to g x g.
        num_resolutions: R fields of view, linearly spaced from g/S to 1 of the image.
        blocks, width: glimpse-net depth per group and width multiplier ((3,4,6,3), 1.0 = resnet_v2_50).
        rnn_units: (classification LSTM, location LSTM) sizes.
        sampling_std: std of the Gaussian location policy in training (0.1).
        limit_classification_rf: True (paper/code default): after the context step the classifier
            sees only the high-resolution glimpse; the other resolutions are replaced by their
            per-channel spatial mean. False: all resolutions at every step.
        stop_gradient_glimpse: no gradient through glimpse extraction (code default True).
        prediction: "last" (default) = logits of the last step; "mean" = mean of the step logits.
            Which one the paper used is UNCONFIRMED (SPEC 8.1, 10.11).
        resize_mode: interpolation used to bring the low-resolution fields of view to g x g
            ("bilinear", the code's ``tf.image.resize_images`` default; "bicubic").
        glimpse_resize: resize convention. "tf1" (default, the official ``glimpse_model.py``): TF1
            ``resize_images`` with ``align_corners=False`` and no half-pixel centres (source pixel =
            destination x in/out, no antialiasing; ``saccader.data.tf_resize.tf1_resize``).
            "half_pixel": ``F.interpolate(align_corners=False)`` (half-pixel centres), whose sampling
            grid is offset by 0.5 (in/out - 1) source pixels: 0.47 px for the 150-px and 0.95 px
            for the 224-px field at 224/77.
        bn_momentum, bn_eps: glimpse-net BN (PyTorch convention; slim: decay 0.997 -> 0.003).
        forget_bias: TF LSTMCell forget bias (1.0).
        init: glimpse-net initialization, "official" (slim's truncated variance scaling) or "torch"
            (kaiming-normal); the LSTMs and dense layers are glorot-uniform with zero biases in both.
    """

    def __init__(
        self,
        *,
        num_classes: int = 1001,
        image_size: int = 224,
        glimpse_size: int = 77,
        num_resolutions: int = 3,
        blocks: Sequence[int] = (3, 4, 6, 3),
        width: float = 1.0,
        rnn_units: Sequence[int] = (1024, 1024),
        sampling_std: float = 0.1,
        limit_classification_rf: bool = True,
        stop_gradient_glimpse: bool = True,
        prediction: str = "last",
        resize_mode: str = "bilinear",
        glimpse_resize: str = "tf1",
        bn_momentum: float = 0.003,
        bn_eps: float = 1e-5,
        forget_bias: float = 1.0,
        init: str = "official",
    ):
        super().__init__()
        if prediction not in ("last", "mean"):
            raise ValueError(f"prediction must be 'last' or 'mean', got {prediction!r}")
        if len(rnn_units) != 2:
            raise ValueError(f"rnn_units must hold two sizes (classification, location), got {rnn_units!r}")
        if not 0 < glimpse_size <= image_size:
            raise ValueError(f"glimpse_size {glimpse_size} must be in (0, image_size={image_size}]")
        self.num_classes = int(num_classes)
        self.image_size = int(image_size)
        self.glimpse_size = int(glimpse_size)
        self.num_resolutions = int(num_resolutions)
        self.sampling_std = float(sampling_std)
        self.limit_classification_rf = bool(limit_classification_rf)
        self.stop_gradient_glimpse = bool(stop_gradient_glimpse)
        self.prediction = prediction
        if glimpse_resize not in ("tf1", "half_pixel"):
            raise ValueError(f"glimpse_resize must be 'tf1' or 'half_pixel', got {glimpse_resize!r}")
        if glimpse_resize == "tf1" and resize_mode not in ("bilinear", "bicubic"):
            raise ValueError(f"resize_mode={resize_mode!r} needs glimpse_resize='half_pixel'; with 'tf1' use "
                             "'bilinear' or 'bicubic'")
        self.resize_mode = resize_mode
        self.glimpse_resize = glimpse_resize
        self.location_scale = 1.0 - self.glimpse_size / self.image_size

        self.glimpse_net = ResNetV2Slim(
            in_chans=5 * self.num_resolutions, blocks=blocks, width=width, bn_momentum=bn_momentum, bn_eps=bn_eps,
            init=init,
        )
        feat = self.glimpse_net.num_features
        self.rnn_classification = TFLSTMCell(feat, rnn_units[0], forget_bias)
        self.rnn_location = TFLSTMCell(rnn_units[0], rnn_units[1], forget_bias)
        self.classifier = nn.Linear(rnn_units[0], self.num_classes)
        self.emission = nn.Linear(rnn_units[1], 2)
        for lin in (self.classifier, self.emission):  # tf.layers.dense defaults
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    # ---- parameter groups (the code's var_list_classification / var_list_location) ----
    def classification_parameters(self) -> Iterator[nn.Parameter]:
        """Glimpse net + classification LSTM + classifier (L2 8e-5 in the code)."""
        for m in (self.glimpse_net, self.rnn_classification, self.classifier):
            yield from m.parameters()

    def location_parameters(self) -> Iterator[nn.Parameter]:
        """Location LSTM + emission head (no L2 in the code)."""
        for m in (self.rnn_location, self.emission):
            yield from m.parameters()

    # ---- pieces ----
    def glimpse_input(self, images: torch.Tensor, locations: torch.Tensor, use_all: bool) -> torch.Tensor:
        """Multi-resolution glimpse stack (B, 5R, g, g) at ``locations`` (B, 2).

        Per resolution: [RGB, row position, column position]; the field of view is cropped from the
        image + position channels, then resized to g x g. With ``use_all=False`` every resolution
        but the first is replaced by its per-channel spatial mean.
        """
        src = torch.cat([images, position_channels(images)], dim=1)
        if self.stop_gradient_glimpse:
            src = src.detach()
        g = self.glimpse_size
        outs = []
        sizes = multi_resolution_sizes(images.shape[-1], g, self.num_resolutions)
        for r, size in enumerate(sizes):
            crop = extract_glimpses(src, locations, size)
            if size != g:
                if self.glimpse_resize == "tf1":
                    crop = tf1_resize(crop, (g, g), self.resize_mode)
                else:
                    crop = F.interpolate(crop, size=(g, g), mode=self.resize_mode, align_corners=False)
            if r > 0 and not use_all:
                crop = crop.mean(dim=(2, 3), keepdim=True).detach().expand_as(crop)
            outs.append(crop)
        return torch.cat(outs, dim=1)

    def _emit(self, h1: torch.Tensor, sample: bool, policy: str) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.location_scale * torch.tanh(self.emission(h1))
        s = self.location_scale
        if policy == "learned":
            if sample:
                loc = (mean + self.sampling_std * torch.randn_like(mean)).clamp(-s, s)
            else:
                loc = mean
            loc = loc.detach()
        elif policy == "random":
            loc = (torch.rand_like(mean) * 2.0 - 1.0) * s
        elif policy == "center":
            loc = torch.zeros_like(mean)
        else:
            raise ValueError(f"policy must be 'learned', 'random' or 'center', got {policy!r}")
        return loc, mean

    def forward(
        self,
        images: torch.Tensor,
        num_glimpses: int = 6,
        sample: bool | None = None,
        policy: str = "learned",
        prediction: str | None = None,
    ) -> DRAMOutput:
        """images (B, 3, S, S) normalized -> :class:`DRAMOutput` with T = ``num_glimpses``.

        ``sample=None`` samples locations in training mode and uses the mean in eval mode.
        ``policy``: "learned" | "random" (uniform in [-location_scale, location_scale]) | "center".
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"DRAM expects images (B, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-1] != images.shape[-2]:
            raise ValueError(f"DRAM expects square images, got {tuple(images.shape[-2:])}")
        if num_glimpses < 1:
            raise ValueError(f"num_glimpses must be >= 1, got {num_glimpses}")
        prediction = prediction or self.prediction
        if prediction not in ("last", "mean"):
            raise ValueError(f"prediction must be 'last' or 'mean', got {prediction!r}")
        sample = self.training if sample is None else bool(sample)
        # location_scale follows the actual image size, as in the code.
        self.location_scale = 1.0 - self.glimpse_size / images.shape[-1]
        b = images.shape[0]

        # Context (pre-time) step: centre, all resolutions; sets the location LSTM state only.
        zero0 = self.rnn_classification.zero_state(b, images)
        state1 = self.rnn_location.zero_state(b, images)
        loc0 = images.new_zeros(b, 2)
        g = self.glimpse_net(self.glimpse_input(images, loc0, use_all=True))
        h0, _ = self.rnn_classification(g, zero0)
        h1, state1 = self.rnn_location(h0, state1)
        loc, mean = self._emit(h1, sample, policy)
        state0 = zero0  # classification state reset

        use_all = not self.limit_classification_rf
        step_logits, locs, means = [], [], []
        for t in range(num_glimpses):
            locs.append(loc)
            means.append(mean)
            g = self.glimpse_net(self.glimpse_input(images, loc, use_all=use_all))
            h0, state0 = self.rnn_classification(g, state0)
            step_logits.append(self.classifier(h0))
            if t + 1 < num_glimpses:  # the last emission is never used
                h1, state1 = self.rnn_location(h0, state1)
                loc, mean = self._emit(h1, sample, policy)

        step_logits_t = torch.stack(step_logits, dim=1)
        locations = torch.stack(locs, dim=1)
        location_mean = torch.stack(means, dim=1)
        log_prob = torch.distributions.Normal(location_mean, self.sampling_std).log_prob(locations).sum(-1)
        logits = step_logits_t[:, -1] if prediction == "last" else step_logits_t.mean(dim=1)
        return DRAMOutput(
            logits=logits,
            step_logits=step_logits_t,
            locations=locations,
            location_mean=location_mean,
            log_prob=log_prob,
        )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
_DRAM_KEYS = (
    "num_resolutions blocks width rnn_units sampling_std limit_classification_rf stop_gradient_glimpse "
    "prediction resize_mode glimpse_resize bn_momentum bn_eps forget_bias init"
).split()


def _build(cfg: ModelCfg, defaults: dict, kwargs: dict) -> DRAM:
    unknown = set(kwargs) - set(_DRAM_KEYS) - {"num_classes"}
    if unknown:
        raise TypeError(f"unknown DRAM option(s) {sorted(unknown)}; known: {sorted(_DRAM_KEYS)} + num_classes")
    opts = {**defaults, **kwargs}
    opts["num_classes"] = cfg.num_classes
    return DRAM(image_size=cfg.image_size, glimpse_size=cfg.glimpse_size, **opts)


@register_model(
    ModelCfg(
        name="dram",
        input_size=(3, 224, 224),
        glimpse_size=77,
        grid_size=19,
        stride=8,
        receptive_field=77,
        num_classes=1001,
        label_offset=1,
        extra={"paper_parameters": 45_610_219, "family": "dram"},
    )
)
def dram(cfg: ModelCfg, **kwargs) -> DRAM:
    """DRAM on 224 px ImageNet: slim resnet_v2_50 glimpse net, 2 x LSTM(1024), 45,610,219 parameters."""
    return _build(cfg, {}, kwargs)


@register_model(
    ModelCfg(
        name="dram_tiny",
        input_size=(3, 96, 96),
        glimpse_size=33,
        grid_size=9,
        stride=8,
        receptive_field=33,
        num_classes=10,
        label_offset=0,
        crop_fraction=1.0,
        extra={"family": "dram"},
    )
)
def dram_tiny(cfg: ModelCfg, **kwargs) -> DRAM:
    """CPU-sized DRAM for 96 px synthetic images: 33 px glimpses, quarter-width (2,2,2,2) glimpse net
    (512 features), 2 x LSTM(256), BN momentum 0.1."""
    defaults = dict(blocks=(2, 2, 2, 2), width=0.25, rnn_units=(256, 256), bn_momentum=0.1)
    return _build(cfg, defaults, kwargs)
