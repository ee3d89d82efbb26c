"""The architecture in numbers, for the chapter "The model": layer table, parameter table beside
the paper's, glimpse geometry and the gradient support of one output cell.

Everything is computed from the code (``BagNetConfig``, the registry, ``GlimpseGeometry``); nothing
is typed in. This module is not part of what training depends on (``cache.code_version``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from saccader.geometry import GlimpseGeometry, receptive_field_size


def _ops_rf(ops: list[tuple[int, int]], image_size: int) -> tuple[int, int, int]:
    """(receptive field, jump = cumulative stride, output size) after a chain of valid convs."""
    rf, n = receptive_field_size(ops, image_size)
    jump = 1
    for _, s in ops:
        jump *= s
    return rf, jump, n


def layer_table(config=None, image_size: int = 224, per_block: bool = False) -> pd.DataFrame:
    """BagNet layer table from a ``BagNetConfig`` (default: BagNet-77-lowD).

    One row per stage (stem, group0..3, lowD, logits2d), or per bottleneck with ``per_block``:
    blocks, middle kernels, stride, output channels, output grid at ``image_size``, receptive field
    and cumulative stride after the row."""
    from saccader.models.bagnet import BagNetConfig

    c = config or BagNetConfig()
    rows = []
    ops = [(3, 1)]
    rf, jump, n = _ops_rf(ops, image_size)
    rows.append({"stage": "stem", "blocks": 1, "kernels": "3x3 conv", "stride": 1,
                 "channels": c.channels(c.stem_channels), "output": f"{n}x{n}", "receptive_field": rf,
                 "cumulative_stride": jump})
    for g, (blocks, planes, stride, k3) in enumerate(zip(c.blocks, c.planes, c.strides, c.kernel3)):
        out_ch = c.channels(planes) * c.expansion
        mids = []
        for i in range(blocks):
            k = 3 if i < k3 else 1
            s = stride if i == 0 else 1
            ops += [(1, 1), (k, s), (1, 1)]
            mids.append(k)
            if per_block:
                rf, jump, n = _ops_rf(ops, image_size)
                rows.append({"stage": f"group{g}.block{i}", "blocks": 1, "kernels": f"1x1-{k}x{k}-1x1",
                             "stride": s, "channels": out_ch, "output": f"{n}x{n}", "receptive_field": rf,
                             "cumulative_stride": jump})
        if not per_block:
            rf, jump, n = _ops_rf(ops, image_size)
            n3 = sum(1 for k in mids if k == 3)
            kern = (f"{n3} with 3x3 middle" if n3 else "") + (", " if n3 and n3 < blocks else "") + \
                   (f"{blocks - n3} all 1x1" if n3 < blocks else "")
            rows.append({"stage": f"group{g}", "blocks": blocks, "kernels": kern, "stride": stride,
                         "channels": out_ch, "output": f"{n}x{n}", "receptive_field": rf, "cumulative_stride": jump})
    ch = c.channels(c.planes[-1]) * c.expansion
    if c.final_bottleneck:
        ch = ch // 4
        rows.append({"stage": "lowD", "blocks": 1, "kernels": "1x1 conv + BN + ReLU", "stride": 1, "channels": ch,
                     "output": f"{n}x{n}", "receptive_field": rf, "cumulative_stride": jump})
    rows.append({"stage": "logits2d", "blocks": 1, "kernels": "1x1 conv + bias", "stride": 1,
                 "channels": c.num_classes, "output": f"{n}x{n}", "receptive_field": rf, "cumulative_stride": jump})
    return pd.DataFrame(rows).set_index("stage")


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Trainable parameters, and the paper's way of counting (TF variables: BN moving mean and
    variance included, ``num_batches_tracked`` not)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    bn_stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    return {"trainable": trainable, "frozen": frozen, "with_bn_statistics": trainable + frozen + bn_stats}


def model_table(names: list[str] | None = None) -> pd.DataFrame:
    """One row per model: geometry, preprocessing and parameter counts."""
    from saccader.models import create_model, list_models

    rows = []
    for name in names or list_models():
        model = create_model(name)
        cfg = model.cfg
        rows.append({"model": name, "input": cfg.input_size[-1], "glimpse": cfg.glimpse_size, "grid": cfg.grid_size,
                     "stride": cfg.stride, "receptive_field": cfg.receptive_field, "classes": cfg.num_classes,
                     **parameter_counts(model)})
        del model
    return pd.DataFrame(rows)


def parameter_table(names: list[str] | None = None) -> pd.DataFrame:
    """Every registered model's parameter counts beside the paper's Table Supp.1 (where the paper
    reports the model). ``match`` compares the paper's count with ``with_bn_statistics``."""
    from saccader.models import list_models
    from saccader.report.reference import paper_table

    df = model_table(names or list_models())
    paper = paper_table("parameter_counts").set_index("registry_name")
    df["paper_model"] = df["model"].map(paper["model"])
    df["paper_table_supp1"] = df["model"].map(paper["parameters"]).astype("Int64")
    df["difference"] = (df["with_bn_statistics"] - df["paper_table_supp1"]).astype("Int64")
    df["match"] = df["difference"].map(lambda d: "" if pd.isna(d) else ("exact" if d == 0 else "differs"))
    cols = ["model", "paper_model", "input", "grid", "receptive_field", "classes", "trainable", "frozen",
            "with_bn_statistics", "paper_table_supp1", "difference", "match"]
    df = df[cols].assign(_paper=df["paper_table_supp1"].isna()).sort_values(["_paper", "model"])
    return df.drop(columns="_paper").set_index("model")


def plot_receptive_field_growth(models: list[tuple[str, object, int]]) -> plt.Figure:
    """The receptive field after each layer (one bottleneck per step) of each of ``models``
    [(name, BagNetConfig, image size)], its final size written at the end of the line."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for name, cfg, size in models:
        blocks = layer_table(cfg, image_size=size, per_block=True)
        ax.step(range(len(blocks)), blocks["receptive_field"], where="post", label=name)
        ax.annotate(f"{blocks['receptive_field'].iloc[-1]} px", (len(blocks) - 1, blocks["receptive_field"].iloc[-1]),
                    textcoords="offset points", xytext=(4, 0), va="center", fontsize=8)
    ax.set(xlabel="layer (stem, then one bottleneck per step, then lowD and logits)", ylabel="receptive field (px)",
           title="Receptive field growth: only the 3x3 convolutions enlarge it")
    ax.legend()
    return fig


# ------------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------------

def offset_table(geom: GlimpseGeometry) -> pd.DataFrame:
    """Per grid index: the code's glimpse offset, the true receptive-field offset and their difference."""
    code = GlimpseGeometry(geom.image_size, geom.glimpse_size, geom.grid_size, geom.stride, "code").offsets()
    rf = geom.receptive_field_offsets()
    return pd.DataFrame({"index": np.arange(geom.grid_size), "glimpse_offset": code.numpy(),
                         "receptive_field_offset": rf.numpy(), "misalignment_px": (code - rf).numpy()}).set_index("index")


def plot_geometry(geom: GlimpseGeometry, cells: list[tuple[int, int]] | None = None, ax=None,
                  title: str | None = None) -> plt.Axes:
    """The G x G grid on an S-px image: centres of all cells' glimpses (dots) and, for ``cells``,
    the code's glimpse box (solid) against the true receptive-field box (dashed)."""
    from matplotlib.patches import Rectangle

    G, S = geom.grid_size, geom.image_size
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    cells = cells if cells is not None else [(0, 0), (G // 2, G // 2), (G - 1, G - 1)]
    ax.add_patch(Rectangle((-0.5, -0.5), S, S, fill=True, fc="0.95", ec="k", lw=1))
    off = offset_table(geom)
    centre = off["glimpse_offset"].to_numpy() + geom.glimpse_size / 2
    rf_centre = off["receptive_field_offset"].to_numpy() + geom.glimpse_size / 2
    yy, xx = np.meshgrid(centre, centre, indexing="ij")
    ax.plot(xx.ravel(), yy.ravel(), ".", color="0.35", ms=3, label=f"glimpse centres ({G}x{G})")
    ry, rx = np.meshgrid(rf_centre, rf_centre, indexing="ij")
    ax.plot(rx.ravel(), ry.ravel(), "+", color="C3", ms=3, mew=0.6, alpha=0.6, label="receptive-field centres")
    for k, (i, j) in enumerate(cells):
        idx = torch.tensor(i * G + j)
        y0, x0, y1, x1 = geom.glimpse_boxes(idx).tolist() if geom.placement == "code" else \
            GlimpseGeometry(S, geom.glimpse_size, G, geom.stride).glimpse_boxes(idx).tolist()
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=f"C{k}", lw=1.8,
                               label="glimpse box (code)" if k == 0 else None))
        r0, c0, r1, c1 = geom.receptive_field_boxes(idx).tolist()
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec=f"C{k}", lw=1.2, ls="--",
                               label="receptive field (true)" if k == 0 else None))
        ax.text(x0 + 2, y1 - 2, f"cell ({i},{j}): Δ = {x0 - c0} px", color=f"C{k}", fontsize=7, va="bottom",
                bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    ax.set(xlim=(-4, S + 3), ylim=(S + 3, -4), aspect="equal", xlabel="x (px)", ylabel="y (px)",
           title=title or f"{S}-px image, {G}x{G} grid, {geom.glimpse_size}-px glimpses")
    ax.grid(False)
    return ax


# ------------------------------------------------------------------------------------------------
# gradient support
# ------------------------------------------------------------------------------------------------

def plot_geometries(panels: list[tuple[GlimpseGeometry, list[tuple[int, int]], str, str]]) -> plt.Figure:
    """One :func:`plot_geometry` panel per entry of ``panels`` [(geometry, cells, title, label)] and
    a last panel with the misalignment of the code's glimpse box (:func:`offset_table`) of each
    geometry (its ``label``) against the grid index."""
    n = len(panels)
    fig, axes = plt.subplots(1, n + 1, figsize=(5 * n + 5, 5), gridspec_kw={"width_ratios": [1] * n + [0.9]})
    for ax, (geom, cells, title, _) in zip(axes, panels):
        plot_geometry(geom, cells, ax=ax, title=title)
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    for geom, _, _, label in panels:
        off = offset_table(geom)
        axes[-1].plot(off.index, off["misalignment_px"], "o-", ms=4, label=label)
    axes[-1].set(xlabel="grid index i (per axis)", ylabel="glimpse offset - receptive-field offset (px)",
                 title="Misalignment of the code's glimpse box")
    axes[-1].legend()
    fig.tight_layout()
    return fig


def randomize_batchnorm(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random affine weights and running statistics (in place) so that no
    branch is silenced: the zero-initialized last BN gamma of each bottleneck would otherwise hide
    the residual branches and shrink the apparent receptive field. Puts the module in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                if m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module.eval()


def gradient_support(bagnet: nn.Module, cell: tuple[int, int], image_size: int | None = None,
                     output: str = "features2d", seed: int = 0) -> dict:
    """Gradient of one output cell (sum over channels of ``output``) with respect to a random image.

    Returns ``{"grad": (S, S) array of |gradient| summed over RGB, "support": (y0, x0, y1, x1)``
    bounding box of the nonzero gradient (end exclusive), ``"expected": `` the receptive-field box
    ``stride * (i, j)`` of side RF, ``"inside_fraction":`` share of the gradient mass inside the
    expected box (1.0 when nothing leaks)}. The BagNet must have randomized BN (see
    :func:`randomize_batchnorm`); it is used as given, in eval mode."""
    bagnet.eval()
    s = int(image_size or getattr(getattr(bagnet, "cfg", None), "image_size", 224))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, s, s, generator=g, requires_grad=True)
    out = bagnet(x)[output]
    i, j = cell
    out[0, :, i, j].sum().backward()
    grad = x.grad[0].abs().sum(0).numpy()
    nz = np.argwhere(grad > 0)
    support = (int(nz[:, 0].min()), int(nz[:, 1].min()), int(nz[:, 0].max()) + 1, int(nz[:, 1].max()) + 1) \
        if len(nz) else None
    rf, stride = bagnet.receptive_field, bagnet.stride
    expected = (stride * i, stride * j, stride * i + rf, stride * j + rf)
    y0, x0, y1, x1 = expected
    inside = float(grad[y0:y1, x0:x1].sum() / max(grad.sum(), 1e-30))
    return {"grad": grad, "support": support, "expected": expected, "inside_fraction": inside,
            "grid": tuple(out.shape[-2:])}


def plot_gradient_support(result: dict, ax=None, title: str | None = None) -> plt.Axes:
    """|gradient| of one cell on the image (log colour scale), with its expected receptive field."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    grad = result["grad"]
    pos = grad[grad > 0]
    show = np.where(grad > 0, grad, np.nan)
    im = ax.imshow(show, cmap="magma", norm=LogNorm(vmin=max(pos.min(), pos.max() * 1e-6), vmax=pos.max()),
                   interpolation="nearest")
    ax.set_facecolor("0.92")
    y0, x0, y1, x1 = result["expected"]
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="C2", lw=1.5, ls="--",
                           label=f"expected RF {x1 - x0}x{y1 - y0} px"))
    ax.legend(fontsize=7, loc="lower right")
    ax.set(title=title, xlabel="x (px)", ylabel="y (px)")
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="|d cell / d pixel| (grey: exactly 0)")
    return ax


def plot_gradient_supports(results: list[dict], cells: list[tuple[int, int]], model: str) -> plt.Figure:
    """:func:`plot_gradient_support` of each of ``results`` (the gradient support of ``cells`` of
    ``model``), side by side."""
    fig, axes = plt.subplots(1, len(cells), figsize=(4.8 * len(cells), 4.6), squeeze=False)
    for ax, cell, r in zip(axes[0], cells, results):
        plot_gradient_support(r, ax=ax, title=f"{model}: cell {cell}")
    fig.tight_layout()
    return fig


__all__ = ["layer_table", "parameter_counts", "model_table", "parameter_table", "plot_receptive_field_growth",
           "offset_table", "plot_geometry", "plot_geometries", "randomize_batchnorm", "gradient_support",
           "plot_gradient_support", "plot_gradient_supports"]
