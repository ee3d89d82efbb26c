"""One figure style for the whole book, and the drawing helpers every chapter shares.

Figures are saved as PNG and SVG into ``figures/`` with their provenance (preset, git commit,
date) in small print, so that a figure taken out of the book still says where it came from.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.patches import Rectangle

from saccader import paths
from saccader.provenance import git_commit

PALETTE = "colorblind"
# width of the book's content column, in CSS px, in a 1400-px-wide window: a wider figure is
# scaled down to it, and its text with it
CONTENT_PX = 780
# the smallest text size, in points as displayed on the page
MIN_PT = 8.0


def displayed_points(fig: plt.Figure, size_pt: float, column_px: float = CONTENT_PX) -> float:
    """The size, in points as displayed in the book, of ``size_pt``-point text of ``fig``: the
    inline PNG has ``fig.dpi`` pixels per inch (the page shows one image pixel per CSS pixel,
    96 per inch) and is scaled down to the content column when wider."""
    fig.canvas.draw()
    width_px = fig.get_tightbbox(fig.canvas.get_renderer()).width * fig.dpi
    return size_pt * fig.dpi / 96 * min(1.0, column_px / max(width_px, 1.0))


def legible(fig: plt.Figure, min_pt: float = MIN_PT, column_px: float = CONTENT_PX) -> float:
    """Raise every text of ``fig`` smaller than ``min_pt`` as displayed (:func:`displayed_points`)
    to that size, redo the figure's layout, and return the smallest displayed size."""
    from matplotlib.text import Text

    for _ in range(3):  # a larger text can widen the figure's tight box: settle in a few passes
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        if not texts:
            return float("inf")
        scale = displayed_points(fig, 1.0, column_px)
        need = min_pt / scale
        small = [t for t in texts if t.get_fontsize() < need - 1e-6]
        if not small:
            break
        for t in small:
            t.set_fontsize(need)
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    if not texts:
        return float("inf")
    # one draw for the whole figure: the displayed size is linear in the font size
    return min(t.get_fontsize() for t in texts) * displayed_points(fig, 1.0, column_px)


def use_style() -> None:
    """The book's single style: this plotting style, and every table a cell displays shown by
    :func:`saccader.report.tables.show`."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "svg.fonttype": "none"})
    from saccader.report import tables

    tables.use_book_tables()


def provenance_line(preset: str, commit: str | None = None, extra: str = "") -> str:
    commit = commit or (git_commit() or "unknown")[:8]
    date = _dt.date.today().isoformat()
    return f"saccader {commit} · preset {preset} · {date}" + (f" · {extra}" if extra else "")


def save_figure(fig: plt.Figure, name: str, preset: str, commit: str | None = None, extra: str = "") -> list[Path]:
    """Stamp ``fig`` with its provenance, make its text legible at the book's page width
    (:func:`legible`) and write ``figures/<preset>/<name>.png`` and ``.svg``."""
    # below the figure's own area (the tight bounding box of the saved file grows to hold it), so
    # that it never covers the lowest captions or tick labels
    fig.text(0.995, -0.005, provenance_line(preset, commit, extra), ha="right", va="top",
             fontsize=6, color="0.45")
    legible(fig)
    out_dir = paths.figures_dir() / preset
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "svg"):
        path = out_dir / f"{name}.{ext}"
        fig.savefig(path, metadata={"Date": None} if ext == "svg" else None)
        written.append(path)
    return written


def to_display(images: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> np.ndarray:
    """(B,3,H,W) uint8 or normalized float -> (B,H,W,3) float in [0, 1] for imshow."""
    x = images.detach().cpu()
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif mean is not None and std is not None:
        x = x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    return x.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def draw_boxes(ax: plt.Axes, boxes, color="C1", numbered: bool = False, lw: float = 1.5, alpha: float = 1.0) -> None:
    """Draw (x0, y0, x1, y1) pixel boxes; ``numbered`` writes the glimpse order in each."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    for t, (x0, y0, x1, y1) in enumerate(boxes):
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, lw=lw, alpha=alpha))
        if numbered:
            ax.text(x0 + 1, y0 + 1, str(t + 1), color="white", fontsize=7, va="top", ha="left",
                    bbox=dict(boxstyle="square,pad=0.1", fc=color, ec="none", alpha=0.85))


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, boxes: Sequence | None = None,
               ncols: int = 8, size: float = 1.6, box_color="C1", numbered: bool = False) -> plt.Figure:
    """A grid of (B,H,W,3) images with optional titles and per-image boxes."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.1), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k], interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
        if boxes is not None and boxes[k] is not None:
            draw_boxes(ax, boxes[k], color=box_color, numbered=numbered)
    fig.tight_layout()
    return fig
