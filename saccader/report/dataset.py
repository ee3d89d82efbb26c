"""The figures of the data-set chapter: sample images with their objects and the glimpse that
would cover each, and the clutter set's class balance and object positions."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from saccader.report import plotting


def samples_figure(images: torch.Tensor, titles: Sequence[str], objects: torch.Tensor | None = None,
                   glimpse: int | None = None, ncols: int = 8) -> plt.Figure:
    """A grid of ``images`` (B, 3, H, W; uint8, or floats in [0, 1]) with their ``titles``; with
    ``objects`` (B, 4) (x0, y0, x1, y1), each object's box and, dashed, a ``glimpse``-px square
    centred on it."""
    fig = plotting.image_grid(plotting.to_display(images), titles=titles,
                              boxes=None if objects is None else objects.numpy(), ncols=ncols)
    if objects is not None:
        centres = (objects[:, :2] + objects[:, 2:]) / 2
        for ax, (cx, cy) in zip(fig.axes, centres.tolist()):
            box = [[cx - glimpse / 2, cy - glimpse / 2, cx + glimpse / 2, cy + glimpse / 2]]
            plotting.draw_boxes(ax, box, color="white", lw=1.0, alpha=0.9)
            ax.patches[-1].set_linestyle("--")
    return fig


def balance_figure(info: dict, object_boxes: torch.Tensor, image_size: int, split: str) -> plt.Figure:
    """Images per class (``info``: ``saccader.data.synthetic.describe`` of the split) and a 2-D
    histogram of the object centres (``object_boxes`` (N, 4) (x0, y0, x1, y1) on ``image_size``-px
    images)."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.barplot(data=info["per_class"], x="class", y="count", ax=axes[0], color="C0")
    axes[0].set(title=f"Images per class ({info['summary']['num_images']} images, split {split})", xlabel="class",
                ylabel="images")
    c = ((object_boxes[:, :2] + object_boxes[:, 2:]) / 2).numpy()
    axes[1].hist2d(c[:, 0], c[:, 1], bins=12, range=[[0, image_size]] * 2, cmap="mako")
    axes[1].set(title="Object centres", xlabel="x (px)", ylabel="y (px)", aspect="equal")
    axes[1].invert_yaxis()
    fig.tight_layout()
    return fig


__all__ = ["samples_figure", "balance_figure"]
