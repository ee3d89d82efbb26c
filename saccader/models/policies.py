"""Location policies that need no learning (SPEC 5.3). Each returns grid cells (B, T), row-major.

=================  ================================================================================
``ordered_logits`` the top-T cells of the logit map of the predicted class (argmax of the mean
                   logits), best first; also the location-pretraining target (SPEC 3.2)
``random``         a uniform location in [-1, 1]^2 snapped to the nearest cell; may revisit cells
``center``         the centre cell at every step
``sobel_mean``     the top-T glimpse windows by mean Sobel edge magnitude of the grayscale image
``sobel_var``      ... by variance of the edge magnitude
=================  ================================================================================

The learned policy lives in :class:`saccader.models.saccader.SaccaderCell`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LEARNED = ("learned",)
ENGINEERED = ("ordered_logits", "random", "center", "sobel_mean", "sobel_var")
POLICIES = LEARNED + ENGINEERED

# tf.image.rgb_to_grayscale weights
_GRAY = (0.2989, 0.5870, 0.1140)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    return policy


def _check_steps(num: int, cells: int) -> None:
    if not 1 <= num <= cells:
        raise ValueError(f"this policy picks distinct cells: num_glimpses must be in [1, {cells}], got {num}")


def ordered_targets(logits2d: torch.Tensor, num: int) -> torch.Tensor:
    """logits2d (B, C, G, G) -> (B, num) cells of the predicted class's logit map, best first."""
    b, c, h, w = logits2d.shape
    _check_steps(num, h * w)
    pred = logits2d.mean(dim=(2, 3)).argmax(-1)  # the predicted class, not the label (official code)
    maps = logits2d[torch.arange(b, device=logits2d.device), pred].reshape(b, h * w)
    return maps.topk(num, dim=-1, sorted=True).indices


def random_cells(batch: int, num: int, grid_size: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, num) cells: uniform continuous locations in [-1, 1]^2 snapped with ``round((G-1)(l+1)/2)``
    (official ``normalized_locations_to_indices``); repeats are possible, as in the code."""
    loc = torch.rand(batch, num, 2, device=device, generator=generator) * 2 - 1
    rc = torch.round((grid_size - 1) * (loc + 1) / 2).long().clamp_(0, grid_size - 1)
    return rc[..., 0] * grid_size + rc[..., 1]


def center_cells(batch: int, num: int, grid_size: int, device=None) -> torch.Tensor:
    """(B, num): the cell at normalized location (0, 0), every step."""
    c = int(torch.round(torch.tensor((grid_size - 1) / 2.0)))  # round half to even, as tf.round
    return torch.full((batch, num), c * grid_size + c, dtype=torch.long, device=device)


def sobel_edges(images: torch.Tensor) -> torch.Tensor:
    """images (B, 3, H, W) -> (B, 1, H, W) Sobel edge magnitude of the grayscale image (reflect padding)."""
    gray = (images * images.new_tensor(_GRAY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    kx = images.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx.t(), kx]).unsqueeze(1)  # (2, 1, 3, 3): d/dy, d/dx
    edges = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="reflect"), k)
    return edges.norm(dim=1, keepdim=True)


def sobel_map(images: torch.Tensor, window: int, grid_size: int, statistic: str = "mean") -> torch.Tensor:
    """(B, G, G): mean or variance of the edge magnitude in each window (size ``window``, stride
    ``ceil((S - window + 1) / G)``, as the official ``engineered_policies``)."""
    edges = sobel_edges(images.float())
    h = images.shape[-1]
    stride = -(-(h - window + 1) // grid_size)
    mean = F.avg_pool2d(edges, window, stride)
    if statistic == "mean":
        m = mean
    elif statistic == "var":
        n = window * window
        m = (n / (n - 1.0)) * (F.avg_pool2d(edges.square(), window, stride) - mean.square())
    else:
        raise ValueError(f"statistic must be 'mean' or 'var', got {statistic!r}")
    m = m[:, 0, :grid_size, :grid_size]
    if m.shape[-1] != grid_size:
        raise ValueError(f"{h}-px images give {m.shape[-1]} Sobel windows of {window} px, not {grid_size}")
    return m


def sobel_cells(images: torch.Tensor, num: int, window: int, grid_size: int, statistic: str) -> torch.Tensor:
    """(B, num) the windows with the largest Sobel statistic, best first."""
    _check_steps(num, grid_size * grid_size)
    m = sobel_map(images, window, grid_size, statistic)
    return m.flatten(1).topk(num, dim=-1, sorted=True).indices


def engineered_cells(policy: str, images: torch.Tensor, logits2d: torch.Tensor, num: int, window: int) -> torch.Tensor:
    """The cells (B, num) an engineered policy picks."""
    b, _, g, _ = logits2d.shape
    if policy == "ordered_logits":
        return ordered_targets(logits2d.float(), num)
    if policy == "random":
        return random_cells(b, num, g, device=logits2d.device)
    if policy == "center":
        return center_cells(b, num, g, device=logits2d.device)
    if policy in ("sobel_mean", "sobel_var"):
        return sobel_cells(images, num, window, g, policy.split("_")[1])
    raise ValueError(f"{policy!r} is not an engineered policy; choose one of {', '.join(ENGINEERED)}")


__all__ = ["POLICIES", "ENGINEERED", "check_policy", "ordered_targets", "random_cells", "center_cells",
           "sobel_edges", "sobel_map", "sobel_cells", "engineered_cells"]
