"""Weight initialization of the official TensorFlow code, and the switch back to ours (issue 12, item 2).

Every model family takes ``init="official" | "torch"`` (default "official"):

==================  =============================================  ======================================
family              "official" (what the TF code's layers do)      "torch" (this port's earlier scheme)
==================  =============================================  ======================================
BagNet              ``tf.layers`` defaults: glorot-uniform          kaiming-normal (fan_out) convs,
                    kernels, zero biases; BN gamma 1, beta 0,       logits2d N(0, 0.01), zero bias
                    gamma 0 on the last BN of every bottleneck      (same BN)
Saccader head       ``tf.layers`` defaults for the attention        PyTorch defaults (kaiming-uniform
                    convs, the mixing conv and the cell's dense     a=sqrt 5: the cell's weight range is
                    layer (glorot-uniform, zero bias)               2.4x smaller than glorot's)
DRAM glimpse net    slim ``resnet_arg_scope``: variance scaling     kaiming-normal (fan_in), not truncated
                    (factor 2, fan_in, truncated normal), zero
                    biases; LSTMs and dense layers glorot-uniform
                    with zero biases in both schemes
ClassNet backbone   slim arg scopes: NASNet variance scaling        timm's own initialization
(NASNet, ResNet)    fan_out, ResNet-v2 fan_in (truncated normal),
                    zero biases, BN gamma 1 beta 0
==================  =============================================  ======================================

Fans follow TensorFlow's convention for a kernel of shape (kh, kw, in, out): fan_in = kh kw in,
fan_out = kh kw out; a depthwise kernel (kh, kw, in, multiplier) has fan_out = kh kw multiplier.
For a PyTorch ``Conv2d`` weight (out, in / groups, kh, kw) this is fan_in = kh kw in and fan_out
= kh kw out / groups.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

INITS = ("official", "torch")


def check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"init={init!r} is not an initialization scheme; choose one of {', '.join(INITS)} "
                         "(official: the TF code's initializers; torch: this port's earlier scheme)")
    return init


def tf_fans(module: nn.Module) -> tuple[int, int]:
    """(fan_in, fan_out) of a ``Conv2d`` or ``Linear`` weight in TensorFlow's convention."""
    w = module.weight
    if isinstance(module, nn.Linear):
        return int(w.shape[1]), int(w.shape[0])
    groups = getattr(module, "groups", 1)
    rf = int(w[0, 0].numel())
    return int(w.shape[1]) * groups * rf, int(w.shape[0]) // groups * rf


def glorot_uniform_(module: nn.Module) -> None:
    """TF's default ``glorot_uniform`` kernel, U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), and a zero bias."""
    fan_in, fan_out = tf_fans(module)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        module.weight.uniform_(-limit, limit)
        if module.bias is not None:
            module.bias.zero_()


def variance_scaling_(module: nn.Module, mode: str = "fan_in", factor: float = 2.0) -> None:
    """slim's ``variance_scaling_initializer`` (TF1 contrib; uniform=False): a normal of std
    sqrt(1.3 factor / n) truncated at 2 std (the truncation brings the std back to ~sqrt(factor / n)),
    n = fan_in, fan_out or their mean; and a zero bias."""
    fan_in, fan_out = tf_fans(module)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    std = math.sqrt(1.3 * factor / n)
    with torch.no_grad():
        truncated_normal_(module.weight, std)
        if module.bias is not None:
            module.bias.zero_()


def truncated_normal_(weight: torch.Tensor, std: float) -> torch.Tensor:
    """N(0, std^2) with the draws beyond 2 std drawn again (TF's ``truncated_normal``); faster than
    ``nn.init.trunc_normal_`` (inverse CDF) on the 89M weights of NASNet."""
    with torch.no_grad():
        flat = weight.view(-1)
        flat.normal_(0.0, std)
        bad = torch.nonzero(flat.abs() > 2.0 * std).squeeze(1)  # one pass over the tensor,
        while bad.numel():  # then only over the ~4.6 % redrawn
            draw = flat.new_empty(bad.numel()).normal_(0.0, std)
            flat[bad] = draw
            bad = bad[draw.abs() > 2.0 * std]
    return weight


def reset_norms_(module: nn.Module) -> None:
    """Every batch norm of ``module`` to gamma 1, beta 0 (TF's defaults)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def tf_layers_init_(module: nn.Module) -> None:
    """``tf.layers`` defaults on every conv and dense layer of ``module``: glorot-uniform, zero bias."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            glorot_uniform_(m)


def slim_init_(module: nn.Module, mode: str) -> None:
    """A slim network's arg-scope initialization: variance scaling (``mode``) on every conv and
    dense layer, zero biases, BN gamma 1 and beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            variance_scaling_(m, mode)
    reset_norms_(module)


def set_bn_momentum_(module: nn.Module, momentum: float) -> None:
    """Every batch norm of ``module`` gets ``momentum`` (PyTorch convention: 1 - TF decay)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = float(momentum)


__all__ = ["INITS", "check_init", "tf_fans", "glorot_uniform_", "variance_scaling_", "truncated_normal_", "reset_norms_",
           "tf_layers_init_", "slim_init_", "set_bn_momentum_"]
