"""Losses of the three Saccader training steps and of the DRAM baseline (SPEC 3, 8.1).

Each function follows the official TensorFlow code (``saccader/losses.py``) where it exists and
says where it had to choose. Shapes: B batch, T glimpses, C classes, G grid side, N = G*G cells.

* ``per_location_xent`` / ``mean_logits_xent``: step 1, the BagNet representation network.
* ``location_pretraining_loss``: step 2, the self-supervised location pretraining.
* ``reinforce_discrete``: step 3, REINFORCE over the Saccader's discrete cells.
* ``reinforce_gaussian``: DRAM's REINFORCE over continuous (Gaussian) locations.
* ``normalized_l2`` / ``l2_parameters``: the official "normalized" L2 penalty.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def l2_parameters(module: nn.Module, trainable_only: bool = True) -> list[torch.Tensor]:
    """Parameters the official code puts under its L2 penalty.

    The TF ``normalized_l2_loss`` keeps the variables whose name contains neither "bias" nor
    "Norm". In PyTorch terms:

    * layer biases (convolutions, linear layers, LSTM kernels) are dropped;
    * TF-layers batch norms are named ``batch_normalization/gamma|beta`` (lowercase "n"), so the
      BagNet's and the Saccader's BN gammas and betas are kept (SPEC 3.3, 6.1 item 6); PyTorch names
      the BN beta ``bias``, so every parameter of a normalization layer is kept by default;
    * slim names the batch norm attached to a conv ``<conv>/BatchNorm``: those ARE dropped. A module
      lists the names of such child norms in its ``l2_exempt_norms`` attribute (DRAM's slim
      ResNet-v2 bottleneck: ``bn1``, ``bn2``; its ``preact`` and ``postnorm`` BNs are kept). The
      attribute sits on the parent, so it survives the SyncBatchNorm conversion of the children.
    """
    exempt = set()
    for mod in module.modules():
        for child in getattr(mod, "l2_exempt_norms", ()):
            sub = getattr(mod, child, None)
            if sub is not None:
                exempt.update(id(p) for p in sub.parameters())
    params, seen = [], set()
    for mod in module.modules():
        is_norm = isinstance(mod, _NORM_TYPES)
        for name, p in mod.named_parameters(recurse=False):
            if id(p) in seen or id(p) in exempt or (trainable_only and not p.requires_grad):
                continue
            if is_norm or "bias" not in name:
                params.append(p)
                seen.add(id(p))
    return params


def normalized_l2(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """Mean of the squared weights over all ``params`` taken together: sum(w^2) / count.

    The official ``normalized_l2_loss`` computes ``2 * sum(tf.nn.l2_loss(v)) / count`` =
    ``sum(w^2) / count`` (one mean over all the weights, not a mean of per-tensor means). It is
    multiplied by the config's ``l2_loss_wt`` (8e-5) outside. Returns a float32 scalar (0 if empty).
    """
    params = list(params)
    if not params:
        return torch.zeros(())
    total = sum(p.float().pow(2).sum() for p in params)
    count = sum(p.numel() for p in params)
    return total / count


def per_location_xent(logits2d: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of every grid cell against the image label, averaged over cells and batch.

    logits2d (B, C, G, G), labels (B,) -> scalar. Each cell sees only its receptive field, so
    this trains every patch to predict the class (one reading of SPEC 3.1 Eq. 1).
    """
    b, _, h, w = logits2d.shape
    target = labels.view(b, 1, 1).expand(b, h, w)
    return F.cross_entropy(logits2d.float(), target, label_smoothing=label_smoothing)


def mean_logits_xent(logits2d: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the spatially averaged logits (what the BagNet returns as image logits).

    logits2d (B, C, G, G), labels (B,) -> scalar (the other reading of SPEC 3.1 Eq. 1).
    """
    return F.cross_entropy(logits2d.float().mean(dim=(2, 3)), labels, label_smoothing=label_smoothing)


def location_pretraining_loss(location_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of each step's location logits against its target cell, averaged
    over steps and batch (official ``saccader_pretraining_loss``).

    location_logits (B, T, N) (masked cells hold a very negative value), targets (B, T) long in
    [0, N) -> scalar. A target the model has already visited is masked, so its loss is huge, but
    its gradient (softmax - onehot) stays bounded (SPEC 3.2).
    """
    b, t, n = location_logits.shape
    return F.cross_entropy(location_logits.float().reshape(b * t, n), targets.reshape(b * t))


def correct_rewards(logits: torch.Tensor, labels: torch.Tensor, use_punishment: bool = False) -> torch.Tensor:
    """Reward 1 if argmax(logits) == label else 0 (or +1/-1 with ``use_punishment``). (B,) float."""
    r = (logits.detach().argmax(dim=-1) == labels).float()
    return 2.0 * r - 1.0 if use_punishment else r


def _advantages(rewards: torch.Tensor) -> torch.Tensor:
    """Reward minus the batch-mean baseline; no gradient, no division by the std (SPEC 3.3)."""
    rewards = rewards.detach().float()
    return rewards - rewards.mean()


def reinforce_discrete(location_logits: torch.Tensor, indices: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE over discrete locations (official ``reinforce_loss_discrete``).

    location_logits (B, T, N), indices (B, T) sampled cells, rewards (B,) (the same reward for
    every step: the caller passes the reward of the final prediction) or (B, T).
    log pi_t = -CE(location_logits_t, index_t); advantage = r - mean(r) over the batch (and the T
    copies, the same thing for a per-image reward); loss = -mean_{b,t}(advantage * log pi_t).
    Minimizing it raises the log-probability of actions whose reward is above the batch mean.
    """
    b, t, n = location_logits.shape
    if rewards.dim() == 1:
        rewards = rewards[:, None].expand(b, t)
    log_pi = -F.cross_entropy(location_logits.float().reshape(b * t, n), indices.reshape(b * t), reduction="none")
    return -(_advantages(rewards.reshape(b * t)) * log_pi).mean()


def reinforce_gaussian(log_prob: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE over continuous Gaussian locations (official ``reinforce_loss_continuous``, DRAM).

    log_prob (B, T) log-likelihood of the used locations (already summed over the 2 coordinates)
    or (B, T, 2) (summed here); rewards (B,) or (B, T). loss = -mean_{b,t}((r - mean r) * log_prob).
    """
    if log_prob.dim() == 3:
        log_prob = log_prob.sum(-1)
    b, t = log_prob.shape
    if rewards.dim() == 1:
        rewards = rewards[:, None].expand(b, t)
    return -(_advantages(rewards.reshape(-1)) * log_prob.float().reshape(-1)).mean()


__all__ = [
    "l2_parameters", "normalized_l2", "per_location_xent", "mean_logits_xent", "location_pretraining_loss",
    "correct_rewards", "reinforce_discrete", "reinforce_gaussian",
]
