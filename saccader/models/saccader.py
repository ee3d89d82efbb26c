"""The Saccader (SPEC 2.1, 2.3-2.5): BagNet cells, a "where" network, and a cell that picks T cells.

::

    images (B, 3, S, S)
    BagNet              features2d (B, F, G, G), what = features2d_lowd (B, D, G, G), logits2d (B, C, G, G)
    attention network   where (B, F/4, G, G)      2 groups x (1x1, 3x3 dilation 2), BN + ReLU each
    mixing 1x1 + bias   M = mix([where, what])    (B, D, G, G)    (D = 512 at full width)
    Saccader cell x T   state C (B, G*G) of visited cells; at step t
        a   = M w / sqrt(D) - 1e5 C           spatial logits       (B, N)    N = G*G
        alpha = softmax_N(a);  beta = softmax_D(alpha^T M)                   (B, D)
        R_t = M beta - 1e5 C                  location logits      (B, N)
        l_t ~ Categorical(R_t) in training, argmax R_t at evaluation
        z_t = logits2d[:, :, l_t]             class logits of the cell (B, C)
    logits = mean_t z_t

Only the attention network, the mixing conv and the cell's ``w`` are "location" parameters
(:meth:`Saccader.location_parameters`); the BagNet is the "representation".

The cell runs in float32 under any autocast (as the official cell); the convolutions follow the
autocast. Initialization: the official code's ``tf.layers`` defaults (``init="official"``, see
``saccader.models.init``) or this port's earlier scheme (``init="torch"``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import policies as P
from .bagnet import TINY, BagNet, BagNetConfig, bagnet_model_cfg
from .init import check_init, tf_layers_init_
from .registry import ModelCfg, register_model

MASK = 1e5  # the official mask value for visited cells


@dataclass
class SaccaderOutput:
    """What :class:`Saccader` returns (N = G * G cells, row-major).

    logits          (B, C)        mean over the T steps of ``step_logits``.
    step_logits     (B, T, C)     class logits of the cell chosen at each step.
    indices         (B, T) long   the chosen cells.
    location_logits (B, T, N)     the cell's location logits R_t (masked), learned policy only.
    logits2d        (B, C, G, G)  the BagNet's per-cell logits.
    image_logits    (B, C)        the BagNet on the full image (mean of ``logits2d`` over cells).
    """

    logits: torch.Tensor
    step_logits: torch.Tensor
    indices: torch.Tensor
    location_logits: Optional[torch.Tensor]
    logits2d: torch.Tensor
    image_logits: torch.Tensor


class AttentionNetwork(nn.Sequential):
    """``groups`` x (``layers_per_group`` - 1 1x1 convs, then a 3x3 dilation-2 conv), "same" padding,
    no bias, BN + ReLU after each; group i has F / 2^(i+1) channels (F = input channels)."""

    def __init__(self, in_channels: int, groups: int = 2, layers_per_group: int = 2):
        layers = []
        ch = in_channels
        for i in range(groups):
            filters = in_channels // 2 ** (i + 1)
            for j in range(layers_per_group):
                last = j == layers_per_group - 1
                layers += [nn.Conv2d(ch, filters, 3 if last else 1, padding=2 if last else 0,
                                     dilation=2 if last else 1, bias=False),
                           nn.BatchNorm2d(filters, eps=1e-5, momentum=0.1), nn.ReLU(inplace=True)]
                ch = filters
        super().__init__(*layers)
        self.out_channels = ch


class SaccaderCell(nn.Module):
    """The cell: one weight vector ``w`` (D,) and the visited-cell mask. Unrolled over T steps."""

    def __init__(self, channels: int):
        super().__init__()
        self.attention_weights = nn.Linear(channels, 1, bias=False)  # the official dense layer, no bias

    def location_logits(self, mixed: torch.Tensor, state: torch.Tensor, space_logits: torch.Tensor) -> torch.Tensor:
        """mixed (B, N, D), state (B, N) in {0, 1}, space_logits (B, N) = M w / sqrt(D) -> R (B, N)."""
        alpha = torch.softmax(space_logits - MASK * state, dim=-1)  # spatial attention (B, N)
        beta = torch.softmax(torch.einsum("bn,bnd->bd", alpha, mixed), dim=-1)  # channel attention (B, D)
        return torch.einsum("bnd,bd->bn", mixed, beta) - MASK * state

    def forward(self, mixed2d: torch.Tensor, logits2d: torch.Tensor, num_glimpses: int, sample: bool,
                forced_indices: torch.Tensor | None = None, soft_attention: bool = False):
        """mixed2d (B, D, G, G), logits2d (B, C, G, G) -> (step_logits (B, T, C), indices (B, T),
        location_logits (B, T, N)). ``forced_indices`` (B, T): the cells to visit (teacher forcing)."""
        b, d, g, _ = mixed2d.shape
        n = g * g
        if not 1 <= num_glimpses <= n:
            raise ValueError(f"the learned policy visits distinct cells: num_glimpses must be in [1, {n}], got {num_glimpses}")
        # The cell runs in float32 whatever the autocast, as the official cell does: under bf16
        # autocast its dense layer and einsums would round the location logits by ~4e-3, enough to
        # flip near-tied choices (and the location-pretraining targets' competitors).
        with torch.autocast(device_type=mixed2d.device.type, enabled=False):
            return self._unroll(mixed2d.float(), logits2d.float(), num_glimpses, sample, forced_indices,
                                soft_attention)

    def _unroll(self, mixed2d: torch.Tensor, logits2d: torch.Tensor, num_glimpses: int, sample: bool,
                forced_indices: torch.Tensor | None, soft_attention: bool):
        """:meth:`forward` on float32 inputs, autocast off."""
        b, d, g, _ = mixed2d.shape
        n = g * g
        mixed = mixed2d.flatten(2).transpose(1, 2)  # (B, N, D)
        cells = logits2d.flatten(2).transpose(1, 2)  # (B, N, C)
        space = self.attention_weights(mixed).squeeze(-1) / d ** 0.5  # (B, N)
        state = mixed.new_zeros(b, n)
        rows = torch.arange(b, device=mixed.device)
        steps, idx_t, loc_t = [], [], []
        for t in range(num_glimpses):
            r = self.location_logits(mixed, state, space)
            if forced_indices is not None:
                idx = forced_indices[:, t]
            elif sample:
                idx = torch.multinomial(torch.softmax(r.detach(), dim=-1), 1).squeeze(1)
            else:
                idx = r.detach().argmax(-1)
            if soft_attention:
                z = torch.einsum("bn,bnc->bc", torch.softmax(r, dim=-1).to(cells.dtype), cells)
            else:
                z = cells[rows, idx]
            state = state.index_put((rows, idx), torch.ones_like(idx, dtype=state.dtype))
            steps.append(z)
            idx_t.append(idx)
            loc_t.append(r)
        return torch.stack(steps, 1), torch.stack(idx_t, 1), torch.stack(loc_t, 1)


class Saccader(nn.Module):
    """BagNet + attention network + what/where mixing + Saccader cell.

    Args:
        representation: the BagNet (with its lowD bottleneck).
        attention_groups, attention_layers_per_group: the attention network (2, 2 in the paper).
        mixed_channels: channels of the mixed features (512 in the paper; default: the lowD width).
        soft_attention: class logits as the location-probability-weighted mean of all cells
            instead of the chosen cell's (False in the paper).
        glimpse_size: side of the glimpse window the Sobel policies score (default: the receptive field).
        init: "official" (default): the ``tf.layers`` defaults of the official code on the attention
            convs, the mixing conv and the cell's dense layer: glorot-uniform kernels, zero biases.
            "torch": PyTorch's defaults (the cell's initial weight range is then 2.4x smaller).
            The representation's own scheme is its ``BagNetConfig.init``.
    """

    def __init__(self, representation: BagNet, attention_groups: int = 2, attention_layers_per_group: int = 2,
                 mixed_channels: int | None = None, soft_attention: bool = False, glimpse_size: int | None = None,
                 init: str = "official"):
        super().__init__()
        check_init(init)
        if representation.lowd is None:
            raise ValueError("the Saccader needs a BagNet with final_bottleneck=True (the 'what' features)")
        self.representation = representation
        self.attention = AttentionNetwork(representation.features_channels, attention_groups, attention_layers_per_group)
        mixed_channels = int(mixed_channels or representation.lowd_channels)
        self.mix = nn.Conv2d(self.attention.out_channels + representation.lowd_channels, mixed_channels, 1, bias=True)
        self.cell = SaccaderCell(mixed_channels)
        self.soft_attention = bool(soft_attention)
        self.glimpse_size = int(glimpse_size or representation.receptive_field)
        if init == "official":  # BN gamma 1, beta 0 in both schemes (PyTorch's and TF's default)
            for m in (self.attention, self.mix, self.cell):
                tf_layers_init_(m)

    def location_parameters(self):
        """The parameters trained by location pretraining: attention network, mixing conv, cell."""
        for m in (self.attention, self.mix, self.cell):
            yield from m.parameters()

    def representation_parameters(self):
        return self.representation.parameters()

    def forward(self, images: torch.Tensor, num_glimpses: int = 6, policy: str = "learned", sample: bool | None = None,
                detach_representation: bool = False, forced_indices: torch.Tensor | None = None,
                soft_attention: bool | None = None) -> SaccaderOutput:
        """images (B, 3, S, S) -> :class:`SaccaderOutput` after ``num_glimpses`` steps of ``policy``.

        ``sample``: draw the learned policy's cells (default: in training mode) or take the argmax.
        ``detach_representation``: no gradient into the BagNet (location pretraining).
        ``forced_indices`` (B, T): visit these cells (teacher forcing); the location logits are still
        those of the learned policy given that history.
        """
        P.check_policy(policy)
        if detach_representation:
            with torch.no_grad():
                rep = self.representation(images)
        else:
            rep = self.representation(images)
        logits2d = rep["logits2d"]
        image_logits = rep["logits"]
        b = images.shape[0]
        if policy != "learned":
            if forced_indices is not None:
                raise ValueError("forced_indices is only meaningful with policy='learned'")
            idx = P.engineered_cells(policy, images, logits2d.detach(), num_glimpses, self.glimpse_size)
            cells = logits2d.flatten(2).transpose(1, 2)  # (B, N, C)
            step_logits = cells[torch.arange(b, device=idx.device)[:, None], idx]
            return SaccaderOutput(step_logits.mean(1), step_logits, idx, None, logits2d, image_logits)
        if forced_indices is not None and tuple(forced_indices.shape) != (b, num_glimpses):
            raise ValueError(f"forced_indices must be (B, T) = ({b}, {num_glimpses}), got {tuple(forced_indices.shape)}")
        where = self.attention(rep["features2d"])
        mixed = self.mix(torch.cat([where, rep["features2d_lowd"]], dim=1))
        sample = self.training if sample is None else bool(sample)
        soft = self.soft_attention if soft_attention is None else bool(soft_attention)
        step_logits, idx, loc = self.cell(mixed, logits2d, num_glimpses, sample, forced_indices, soft)
        return SaccaderOutput(step_logits.mean(1), step_logits, idx, loc, logits2d, image_logits)


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------

_SACCADER_KW = ("attention_groups", "attention_layers_per_group", "mixed_channels", "soft_attention", "glimpse_size")


def _saccader_factory(bagnet_defaults: dict):
    def build(cfg: ModelCfg, **kwargs) -> Saccader:
        sk = {k: kwargs.pop(k) for k in _SACCADER_KW if k in kwargs}
        sk["init"] = kwargs.get("init", "official")  # one scheme for the BagNet and the head
        bagnet = BagNet(BagNetConfig(**{**bagnet_defaults, **kwargs, "num_classes": cfg.num_classes}))
        return Saccader(bagnet, **sk)

    return build


register_model(bagnet_model_cfg("saccader77", BagNetConfig(), 224))(_saccader_factory({}))
register_model(bagnet_model_cfg("saccader33_tiny", BagNetConfig(**TINY, num_classes=10), 96,
                                num_classes=10, label_offset=0, crop_fraction=1.0))(_saccader_factory(TINY))

__all__ = ["Saccader", "SaccaderCell", "SaccaderOutput", "AttentionNetwork"]
