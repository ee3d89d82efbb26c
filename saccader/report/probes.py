"""Quick checks of one trained model that a chapter runs live, in seconds, on its held-out split.
They explain a result; they are not results files (nothing here is written to ``data/results``).

``dram_batchnorm_check``: DRAM's glimpse network is called once for the context step (all three
resolutions) and once per glimpse (the low resolutions replaced by their means, the official
``limit_classification_rf``), and its batch normalization keeps *one* set of running statistics for
all of these calls. Whether that shared set fits the inputs of each call, and whether DRAM's
accuracy changes when every call is normalized with its own batch's statistics instead, tells if
the shared statistics are part of why DRAM does not learn at a preset.
"""
from __future__ import annotations

import copy

import pandas as pd
import torch
import torch.nn as nn

from saccader.evaluation.behaviour import batches


def _first_norm(dram: nn.Module) -> nn.modules.batchnorm._BatchNorm:
    """The first batch normalization of DRAM's glimpse network (it sees every call's input)."""
    for module in dram.glimpse_net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return module
    raise ValueError("the DRAM glimpse network has no batch normalization")


@torch.no_grad()
def dram_batchnorm_check(dram: nn.Module, dataset, num_glimpses: int = 6, batch_size: int = 100,
                         max_images: int | None = None, device="cpu",
                         seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """DRAM's top-1 after ``num_glimpses`` with its running BN statistics (as evaluated everywhere
    else) and with each call normalized by its own batch (batches of ``batch_size`` of the first
    ``max_images`` held-out images in an order shuffled by ``seed``, since a split listed class by
    class would otherwise give batches of one class; learned mean locations); and, for the context
    call and each glimpse call, how far the input of the glimpse network's first BN lies from the
    running statistics.

    Returns ``(accuracy, calls)``: ``accuracy`` has one row per statistics ("running", "batch")
    with ``top1`` (in %, as in the results tables) and ``images``; ``calls`` has one row per call
    ("context", "glimpse 1", ...) with ``mean_shift``: the mean over channels of |input mean -
    running mean| / running std, and ``variance_ratio``: the mean over channels of input variance /
    running variance (0 and 1 when the running statistics fit that call exactly). The model is
    left as it was (eval mode, same buffers)."""
    if num_glimpses < 1:
        raise ValueError(f"num_glimpses must be >= 1, got {num_glimpses}")
    n_images = len(dataset) if max_images is None else min(len(dataset), max_images)
    if n_images == 0:
        raise ValueError("the data set is empty")
    order = torch.randperm(n_images, generator=torch.Generator().manual_seed(seed)).tolist()
    shuffled = torch.utils.data.Subset(dataset, order)
    dram = dram.to(device).eval()
    own_batch = copy.deepcopy(dram)  # copied before the hook below, so the copy carries none
    for module in own_batch.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()  # normalize with the batch; the copy's running buffers are thrown away
    norm = _first_norm(dram)
    calls = num_glimpses + 1
    width = norm.num_features
    sums = torch.zeros(calls, width, dtype=torch.float64)
    squares = torch.zeros(calls, width, dtype=torch.float64)
    counts = torch.zeros(calls, dtype=torch.float64)
    seen = [0]

    def record(module, inputs):
        x = inputs[0].double()
        k = seen[0] % calls
        seen[0] += 1
        sums[k] += x.sum(dim=(0, 2, 3)).cpu()
        squares[k] += (x * x).sum(dim=(0, 2, 3)).cpu()
        counts[k] += x.numel() / x.shape[1]

    correct = {"running": 0, "batch": 0}
    handle = norm.register_forward_pre_hook(record)
    try:
        for x, y in batches(shuffled, batch_size, None, device):
            correct["running"] += int((dram(x, num_glimpses=num_glimpses).logits.argmax(-1) == y).sum())
            out = own_batch(x, num_glimpses=num_glimpses, sample=False)
            correct["batch"] += int((out.logits.argmax(-1) == y).sum())
    finally:
        handle.remove()
    mean = sums / counts[:, None]
    var = squares / counts[:, None] - mean ** 2
    run_mean, run_var = norm.running_mean.double().cpu(), norm.running_var.double().cpu()
    accuracy = pd.DataFrame({"statistics": list(correct), "top1": [100.0 * c / n_images for c in correct.values()],
                             "images": n_images})
    table = pd.DataFrame({
        "call": ["context"] + [f"glimpse {t + 1}" for t in range(num_glimpses)],
        "mean_shift": ((mean - run_mean).abs() / (run_var + norm.eps).sqrt()).mean(1).numpy(),
        "variance_ratio": (var / run_var.clamp_min(norm.eps)).mean(1).numpy(),
    })
    return accuracy, table


__all__ = ["dram_batchnorm_check"]
