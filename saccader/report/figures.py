"""Figures of the evaluation chapters (Fig. 1, 3, 4, 6, Supp. 3, the occlusion analysis and the
results table), drawn from the tidy tables of :mod:`saccader.evaluation` and the paper's numbers
in ``data/paper`` (:mod:`saccader.report.reference`).

The paper's curves are not known point by point: only the points it states are marked (Saccader
70.31% top-1 at 6 glimpses, DRAM 67.5% at 8, Saccader-NASNet 75.03 / 91.19% at 6 glimpses and
29.47% of the image), all on ImageNet.
"""
from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from saccader.evaluation.methods import FULL_IMAGE_METHODS, METHOD_LABELS, METHODS, curve_label
from saccader.report import plotting
from saccader.report.plotting import to_display

FULL_IMAGE_STYLE = {"bagnet_full_image": dict(color="0.3", ls="--"), "cnn_full_image": dict(color="0.3", ls=":")}
# (method, policy) in legend order; the engineered policies run on the Saccader's own BagNet
CURVES = [("saccader", "learned"), ("saccader", "ordered_logits"), ("saccader", "random"),
          ("saccader", "center"), ("saccader", "sobel_mean"), ("saccader", "sobel_var"),
          ("saccader_no_pretraining", "learned"), ("dram", "learned"), ("saccader_classnet", "learned")]
METRIC_LABELS = {"top1": "top-1 accuracy (%)", "top5": "top-5 accuracy (%)"}
# paper model -> our method, for the marked points and the table
PAPER_MODELS = {"saccader": "saccader", "dram": "dram", "saccader_nasnet": "saccader_classnet"}
PAPER_LABELS = {"saccader": "Saccader (BagNet-77)", "dram": "DRAM", "saccader_nasnet": "Saccader-NASNet"}
PAPER_POINTS_LABEL = "paper's stated points (ImageNet, 50k images)"


def _style(curves: Sequence[tuple[str, str]]) -> dict:
    markers = "osv^<>DPX*h"
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = {c: i for i, c in enumerate(CURVES)}
    out = {}
    for c in curves:
        i = order.get(tuple(c), len(order) + len(out))
        out[tuple(c)] = dict(color=colors[i % len(colors)], marker=markers[i % len(markers)])
    return out


def paper_points(images: int = 50000) -> pd.DataFrame:
    """The paper's stated points: model, label, metric (top1/top5), glimpses, coverage (fraction or
    NaN when unknown), value (%), source."""
    from saccader.report.reference import paper_table

    df = paper_table("headline")
    df = df[(df.images == images) & df.glimpses.notna()]
    rows = []
    for model, g in df.groupby("model", sort=False):
        cov = g[g.metric == "coverage_percent"]
        coverage = float(cov.value.iloc[0]) / 100 if len(cov) else np.nan
        for _, r in g[g.metric.isin(["top1", "top5"])].iterrows():
            rows.append({"model": model, "label": PAPER_LABELS.get(model, model), "metric": r.metric,
                         "glimpses": int(r.glimpses), "coverage": coverage, "value": float(r.value),
                         "spread": r.spread, "source": r.source})
    return pd.DataFrame(rows)


def _mean_over_seeds(df: pd.DataFrame) -> pd.DataFrame:
    return (df.groupby(["method", "policy", "glimpses"], sort=False)
            .agg(coverage=("coverage", "mean"), top1=("top1", "mean"), top5=("top5", "mean"),
                 top1_sd=("top1", "std"), top5_sd=("top5", "std"), seeds=("seed", "nunique"))
            .reset_index())


def plot_curves(ax: plt.Axes, df: pd.DataFrame, x: str = "glimpses", metric: str = "top1",
                curves: Sequence[tuple[str, str]] | None = None, full_image: bool = True,
                paper: Sequence[str] | bool = False, trained_glimpses: int | None = 6) -> None:
    """Accuracy (``metric``) against ``x`` ("glimpses" or "coverage") for each (method, policy), the
    mean over seeds with a band of +-1 sd where there are several; the full-image BagNet as a
    horizontal lines (``full_image``); ``paper``: the paper's stated points of these models (True: all)."""
    mean = _mean_over_seeds(df)
    curves = [c for c in (curves or CURVES) if ((mean.method == c[0]) & (mean.policy == c[1])).any()]
    style = _style(curves)
    for method, policy in curves:
        d = mean[(mean.method == method) & (mean.policy == policy)].sort_values("glimpses")
        xs = d[x] * (100 if x == "coverage" else 1)
        st = style[(method, policy)]
        ax.plot(xs, d[metric], label=curve_label(method, policy), lw=1.6, ms=4, **st)
        if (d.seeds > 1).any():
            sd = d[f"{metric}_sd"].fillna(0)
            ax.fill_between(xs, d[metric] - sd, d[metric] + sd, color=st["color"], alpha=0.2, lw=0)
    for method in FULL_IMAGE_METHODS:
        full = mean[mean.method == method]
        if full_image and len(full):
            ax.axhline(float(full[metric].iloc[0]), lw=1.2, label=METHOD_LABELS[method], **FULL_IMAGE_STYLE[method])
    if trained_glimpses and x == "glimpses":
        ax.axvline(trained_glimpses, color="0.75", lw=0.8, zorder=0)
    if paper:
        pts = paper_points()
        if paper is not True:
            pts = pts[pts.model.isin(list(paper))]
        pts = pts[pts.metric == metric]
        if x == "coverage":
            pts = pts[pts.coverage.notna()]
        for k, (_, p) in enumerate(pts.iterrows()):
            px = p.coverage * 100 if x == "coverage" else p.glimpses
            ax.plot([px], [p.value], ls="none", marker="*", ms=13, mec="black", mfc="gold", zorder=5,
                    label=PAPER_POINTS_LABEL if k == 0 else None)
            # NASNet and the Saccader share x = 6 and DRAM sits at 8: NASNet's label above left, the
            # Saccader's below left, the others to the right
            left = x == "glimpses" and p.model in ("saccader_nasnet", "saccader")
            above = p.model == "saccader_nasnet"
            ax.annotate(f"{p.label}\n{p.value:.2f}%", (px, p.value), textcoords="offset points",
                        xytext=(-8, 2 if above else -3) if left else (7, -3), fontsize=7,
                        va="bottom" if above else "top", ha="right" if left else "left")
    ax.set_xlabel("glimpses" if x == "glimpses" else "fraction of the image attended (%)")
    ax.set_ylabel(METRIC_LABELS[metric])
    if x == "glimpses":
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))


def curves_figure(df: pd.DataFrame, curves: Sequence[tuple[str, str]] | None = None, metrics=("top1", "top5"),
                  xs=("glimpses", "coverage"), paper: Sequence[str] | bool = False, title: str | None = None,
                  full_image: bool = True, size: tuple[float, float] = (5.2, 3.8)) -> plt.Figure:
    """A grid of :func:`plot_curves` panels (rows: metrics, columns: x axes) with one legend."""
    fig, axes = plt.subplots(len(metrics), len(xs), figsize=(size[0] * len(xs), size[1] * len(metrics)),
                             squeeze=False)
    for i, metric in enumerate(metrics):
        for j, x in enumerate(xs):
            plot_curves(axes[i, j], df, x, metric, curves, full_image, paper)
    seen: dict = {}
    for ax in axes.flat:
        for h, lb in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lb, h)
    # the legend sits above the bottom strip that holds the provenance line (plotting.save_figure)
    rows = (len(seen) - 1) // 4 + 1
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=min(4, len(seen)), fontsize=8,
               bbox_to_anchor=(0.5, 0.012), frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.02 + 0.045 * rows / len(metrics), 1, 1))
    return fig


SEED_CURVES = [("saccader", "learned"), ("saccader", "ordered_logits"), ("saccader", "random"),
               ("saccader_no_pretraining", "learned"), ("dram", "learned")]


def training_seeds_figure(df: pd.DataFrame, curves: Sequence[tuple[str, str]] = tuple(SEED_CURVES),
                          metrics=("top1",), xs=("glimpses", "coverage")) -> plt.Figure:
    """Curves of a training-seed table (``evaluation.get_training_seeds``): the mean over training
    runs with a band of +-1 sd over them (each run's random policy first averaged over its
    evaluation seeds); the full-image BagNet's mean as a dashed line."""
    keys = ["method", "policy", "glimpses", "train_seed"]
    per_run = df.groupby(keys, sort=False)[["coverage", "top1", "top5"]].mean().reset_index()
    runs = per_run.train_seed.nunique()
    per_run = per_run.rename(columns={"train_seed": "seed"})
    return curves_figure(per_run, list(curves), metrics, xs,
                         title=f"Mean over {runs} training runs (band: +-1 sd over runs)")


def occlusion_figure(occ: pd.DataFrame, metrics=("top1",), title: str | None = None) -> plt.Figure:
    """Accuracy of each full-image classifier (a row per classifier and metric) against the number
    of occluded glimpses and against the occluded fraction of each policy; mean over seeds +-1 sd."""
    mean = (occ.groupby(["classifier", "policy", "occluded"], sort=False)
            .agg(coverage=("coverage", "mean"), top1=("top1", "mean"), top5=("top5", "mean"),
                 top1_sd=("top1", "std"), top5_sd=("top5", "std")).reset_index())
    classifiers = list(dict.fromkeys(mean.classifier))
    policies = list(dict.fromkeys(mean.policy))
    style = _style([("saccader", p) for p in policies])
    rows = [(c, m) for c in classifiers for m in metrics]
    fig, axes = plt.subplots(len(rows), 2, figsize=(10.4, 3.6 * len(rows)), squeeze=False)
    for i, (clf, metric) in enumerate(rows):
        for j, x in enumerate(("occluded", "coverage")):
            ax = axes[i, j]
            for p in policies:
                d = mean[(mean.classifier == clf) & (mean.policy == p)].sort_values("occluded")
                xs = d[x] * (100 if x == "coverage" else 1)
                st = style[("saccader", p)]
                ax.plot(xs, d[metric], label=curve_label("saccader", p), lw=1.6, ms=4, **st)
                sd = d[f"{metric}_sd"]
                if sd.notna().any():
                    ax.fill_between(xs, d[metric] - sd.fillna(0), d[metric] + sd.fillna(0), color=st["color"],
                                    alpha=0.2, lw=0)
            ax.set_xlabel("glimpse squares occluded" if x == "occluded" else "fraction of the image occluded (%)")
            ax.set_ylabel(f"{METHOD_LABELS.get(clf, clf)}\n{METRIC_LABELS[metric]}")
            if x == "occluded":
                ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def glimpse_figure(images: np.ndarray, boxes: dict, titles: Sequence[str] | None = None, size: float = 1.9,
                   numbered: bool = True, captions: dict | None = None) -> plt.Figure:
    """Rows: one per entry of ``boxes`` {row name: (B, T, 4) (y0, x0, y1, x1) pixel boxes}; columns:
    the B images (B, H, W, 3). Glimpses are numbered in the order they were taken. ``captions``
    {row name: B strings} are written under the images of that row (e.g. the prediction)."""
    names = list(boxes)
    n = len(images)
    fig, axes = plt.subplots(len(names), n, figsize=(n * size, len(names) * size * 1.08), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r, name in enumerate(names):
        b = torch.as_tensor(boxes[name]).cpu().numpy()
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            xyxy = b[c][:, [1, 0, 3, 2]]  # (y0, x0, y1, x1) -> (x0, y0, x1, y1)
            plotting.draw_boxes(ax, xyxy, color=colors[r % len(colors)], numbered=numbered, lw=1.2)
            if r == 0 and titles is not None:
                ax.set_title(titles[c], fontsize=8)
            if captions and name in captions:
                ax.set_xlabel(captions[name][c], fontsize=7)
            if c == 0:  # a long row name on two lines, so that it stays beside its own row
                ax.set_ylabel("\n".join(textwrap.wrap(name, 14)), fontsize=9)
    fig.tight_layout()
    return fig


def heldout_examples(preset: str = "tiny", num: int = 6, data_dir: str | None = None, stage: str = "policy",
                     first: int = 0) -> dict:
    """``num`` held-out images as the ``stage``'s model sees them: {"images" (normalized, B, 3, S, S),
    "labels" (B,), "display" (B, S, S, 3) in [0, 1], "names" (label names), "dataset"}."""
    from saccader.evaluation.methods import _chain, check_preset, class_names, heldout_split, input_preparer
    from saccader.models import get_model_cfg
    from saccader.train.cache import planned_run

    check_preset(preset)
    _, cfg = planned_run(stage, preset, chain_overrides=_chain(data_dir))
    net_cfg = get_model_cfg(cfg.model)
    dataset = heldout_split(cfg, net_cfg, data_dir)
    idx = list(range(first, min(len(dataset), first + num)))
    if hasattr(dataset, "get_batch"):
        x, y = dataset.get_batch(idx)
    else:
        items = [dataset[i] for i in idx]
        x, y = torch.stack([a for a, _ in items]), torch.tensor([int(b) for _, b in items])
    prep = input_preparer(stage, net_cfg)
    if prep is not None:
        x = prep(x)
    names = class_names(dataset)
    label_names = [names[int(v)] if names else str(int(v)) for v in y]
    return {"images": x, "labels": torch.as_tensor(y).long(), "display": to_display(x, net_cfg.mean, net_cfg.std),
            "names": label_names, "class_names": names, "dataset": dataset}


def prediction_captions(predictions, labels, names: Sequence[str] | None) -> list[str]:
    """"pred: NAME" with a check mark or a cross, for :func:`glimpse_figure`."""
    out = []
    for p, y in zip(torch.as_tensor(predictions).tolist(), torch.as_tensor(labels).tolist()):
        name = names[p] if names else str(p)
        out.append(f"{'✓' if p == y else '✗'} {name}")
    return out


def accuracy_heatmap(df: pd.DataFrame, metric: str = "top1", max_glimpses: int | None = None) -> plt.Figure:
    """Accuracy (mean over seeds) of every (method, policy) against the number of glimpses, as a
    table of colours; the full-image references are given in the title."""
    import seaborn as sns

    mean = _mean_over_seeds(df[~df.method.isin(FULL_IMAGE_METHODS)])
    if max_glimpses:
        mean = mean[mean.glimpses <= max_glimpses]
    mean["curve"] = [curve_label(m, p) for m, p in zip(mean.method, mean.policy)]
    order = [curve_label(*c) for c in CURVES if curve_label(*c) in set(mean.curve)]
    order += [c for c in dict.fromkeys(mean.curve) if c not in order]
    table = mean.pivot(index="curve", columns="glimpses", values=metric).loc[order]
    fig, ax = plt.subplots(figsize=(0.62 * table.shape[1] + 3.2, 0.42 * table.shape[0] + 1.4))
    sns.heatmap(table, annot=True, fmt=".1f", cmap="mako", cbar_kws={"label": METRIC_LABELS[metric]}, ax=ax,
                annot_kws={"fontsize": 7})
    ax.set(xlabel="glimpses", ylabel="")
    title = f"{METRIC_LABELS[metric]} against the number of glimpses"
    refs = [f"{METHOD_LABELS[m]}: {df[df.method == m][metric].mean():.1f}%" for m in FULL_IMAGE_METHODS
            if (df.method == m).any()]
    if refs:
        title += f"\n({'; '.join(refs)})"
    ax.set_title(title)
    fig.tight_layout()
    return fig


def scale_note(df: pd.DataFrame, preset: str, what: str = "curves") -> str:
    """A sentence (markdown) saying at what scale our numbers were obtained and what the paper's are."""
    from saccader.train.config import TrainConfig
    from saccader.train.presets import PRESETS

    images = int(df.images.max())
    seeds = sorted(int(s) for s in df.seed.unique())
    p = PRESETS.get(preset, {})
    train_seed = {**p.get("common", {}), **p.get("policy", {})}.get("seed", TrainConfig.seed)
    where = {"tiny": "the embedded clutter data set (96-px images, 10 classes, tiny models, CPU)",
             "imagenette": "Imagenette, real ImageNet photographs of 10 classes (96-px images, tiny models, "
                           "trained on 2 CPU cores)",
             "imagenet": "ImageNet (224-px images, the paper's models)"}.get(preset, preset)
    repeated = (" (the chapter *Spread over training runs* repeats the Saccader chain and DRAM over training seeds)"
                if preset == "tiny" else "")
    stoch = "random policy" if what == "curves" else "random policy's occluders"
    from saccader.evaluation.results import source_note

    return (f"**Ours:** preset `{preset}`, {where}; every point averages **{images} held-out images**; the "
            f"{stoch} is repeated over **{len(seeds)} seed(s)** ({', '.join(map(str, seeds))}: mean, band = "
            f"+-1 sd); every model is **one training run** (training seed {train_seed}){repeated}. "
            f"**The paper's:** ImageNet validation set (50,000 images), from `data/paper/headline.csv`; "
            f"its curves are not known point by point, only the points it states. " + source_note(df)).strip()


def committed_settings(preset: str, name: str, defaults: dict, **given) -> dict:
    """The evaluation settings a page asks for: each value of ``given`` that is not None (0 for
    ``max_images``: the whole held-out split), else the one the committed table ``name`` of
    ``preset`` was computed with (so that the page shows the committed numbers instead of computing
    others), else ``defaults``. E.g. Imagenette's occlusion was committed on 1,000 images."""
    from saccader.evaluation.results import read_results

    try:
        committed = read_results(preset, name)[1].get("config", {})
    except FileNotFoundError:
        committed = {}
    out = {}
    for key, value in given.items():
        if value is None:
            value = committed.get(key, defaults.get(key))
        elif key == "max_images" and value == 0:
            value = None
        out[key] = value
    return out


def results_figure(table: pd.DataFrame, metric: str = "top1") -> plt.Figure:
    """Bars of ``metric`` at 6 glimpses per method, ours (each preset) beside the paper's."""
    import seaborn as sns

    t = table.dropna(subset=[metric])
    fig, ax = plt.subplots(figsize=(9, 0.45 * t.method.nunique() + 1.8))
    sns.barplot(data=t, y="method", x=metric, hue="source", ax=ax, orient="h")
    for cont in ax.containers:
        ax.bar_label(cont, fmt="%.1f", fontsize=7, padding=2)
    ax.set(xlabel=METRIC_LABELS[metric], ylabel="", xlim=(0, 105))
    odd = t[(t.glimpses != 6) & ~t.model.isin(FULL_IMAGE_METHODS)]
    note = "; ".join(f"{r.source} {r.method} at {int(r.glimpses)}" for _, r in odd.iterrows())
    ax.set_title(f"{METRIC_LABELS[metric]} at 6 glimpses (full-image references: whole image"
                 + (f"; {note}" if note else "") + ")",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def results_table(tables: dict[str, pd.DataFrame], glimpses: int = 6) -> pd.DataFrame:
    """Top-1 / top-5 / coverage of each method at ``glimpses``: ours for each preset in ``tables``
    ({preset: curves table}) beside the paper's stated numbers (NaN where the paper gives none)."""
    from saccader.evaluation.results import at_glimpses

    rows = []
    for preset, df in tables.items():
        for _, r in at_glimpses(df, glimpses).iterrows():
            rows.append({"method": curve_label(r.method, r.policy), "source": f"ours ({preset})", "model": r.method,
                         "glimpses": int(r.glimpses), "top1": r.top1, "top5": r.top5,
                         "coverage_percent": 100 * r.coverage, "images": int(r.images), "seeds": int(r.seeds)})
    pts = paper_points()
    for model, g in pts.groupby("model", sort=False):
        v = {m: float(g[g.metric == m].value.iloc[0]) if (g.metric == m).any() else np.nan for m in ("top1", "top5")}
        rows.append({"method": curve_label(PAPER_MODELS.get(model, model), "learned"), "source": "paper (ImageNet)",
                     "model": PAPER_LABELS.get(model, model),
                     "glimpses": int(g.glimpses.iloc[0]), "top1": v["top1"], "top5": v["top5"],
                     "coverage_percent": 100 * float(g.coverage.iloc[0]), "images": 50000, "seeds": np.nan})
    out = pd.DataFrame(rows)
    full = [(m, METHODS[m].policies[0]) for m in FULL_IMAGE_METHODS]
    order = {curve_label(*c): i for i, c in enumerate(CURVES + full)}
    out["_o"] = out.method.map(order).fillna(len(order))
    return out.sort_values(["_o", "source"], kind="stable").drop(columns="_o").reset_index(drop=True)


HEADLINE_CURVES = [("saccader", "learned"), ("saccader", "ordered_logits"), ("saccader", "random"),
                   ("dram", "learned"), ("saccader_classnet", "learned")]
SCALE_TITLES = {"tiny": "ours, preset tiny (embedded data set, small models)",
                "imagenette": "ours, preset imagenette (real photographs, small models)",
                "imagenet": "ours, preset imagenet (ILSVRC-2012)"}


def headline_figure(tables: dict[str, pd.DataFrame], curves: Sequence[tuple[str, str]] = tuple(HEADLINE_CURVES),
                    size: tuple[float, float] = (6.8, 4.0)) -> plt.Figure:
    """The book's opening figure: top-1 accuracy against the fraction of the image attended, one
    panel per scale in ``tables`` ({preset: curves table}), with the full-image references and the
    paper's stated points that have a coverage (:func:`plot_curves`)."""
    presets = list(tables)
    fig, axes = plt.subplots(1, len(presets), figsize=(size[0], size[1] + 0.6), squeeze=False, sharey=True)
    for ax, preset in zip(axes.flat, presets):
        plot_curves(ax, tables[preset], x="coverage", metric="top1", curves=list(curves), paper=True)
        ax.set_title(SCALE_TITLES.get(preset, f"ours, preset {preset}"))
    seen: dict = {}
    for ax in axes.flat:
        for h, lb in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lb, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=2, fontsize=8,
               bbox_to_anchor=(0.5, 0.012), frameon=False)
    rows = (len(seen) + 1) // 2  # legend rows of 8-pt text, about 0.17 in each, above the provenance line
    fig.tight_layout(rect=(0, (0.2 + 0.17 * rows) / fig.get_figheight(), 1, 1))
    return fig


RESULT_COLUMNS = {"method": "method", "source": "numbers", "glimpses": "glimpses", "top1": "top-1",
                  "top5": "top-5", "coverage_percent": "image attended", "images": "images", "seeds": "seeds"}


def show_results_table(table: pd.DataFrame):
    """:func:`results_table` as the book shows it (:func:`saccader.report.tables.show`): percentages, no
    index, "—" where the paper gives no number."""
    from saccader.report import tables

    return tables.show(table[list(RESULT_COLUMNS)], percent=["top1", "top5", "coverage_percent"],
                       names=RESULT_COLUMNS,
                       missing_note="—: not given. The paper states no such number for this model (and "
                                    "averages no random-policy seeds).",
                       note="image attended: the fraction of the image covered by the union of the "
                            "glimpses; seeds: random-policy seeds averaged.")


__all__ = ["HEADLINE_CURVES", "headline_figure", "RESULT_COLUMNS", "show_results_table", "CURVES", "paper_points",
           "plot_curves",
           "curves_figure", "occlusion_figure", "glimpse_figure", "prediction_captions", "accuracy_heatmap",
           "scale_note", "results_figure", "results_table", "SEED_CURVES", "training_seeds_figure"]
