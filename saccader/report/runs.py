"""What a training run did, for the stage chapters of the book.

A run directory (``get_trained(stage, preset).run_dir``) holds ``log.jsonl``: one JSON object per
line, ``type`` "start" / "resume" / "train" / "eval" / "end". Train lines carry the step, the epoch,
the loss and its terms, the stage's running metrics, the learning rate and the throughput; eval
lines the metrics of one split (``final: true`` for the closing evaluation).

    from saccader.report import runs
    log = runs.read_log(run.run_dir)            # one row per line, columns = keys
    fig = runs.plot_learning_curves(log)
    runs.metrics_table(run.metrics)             # final metrics, one column per split
    runs.config_table(run.config)               # the resolved config, each preset value with its reason
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

LOG_NAME = "log.jsonl"
# loss terms, drawn on one panel when present (in this order)
LOSS_KEYS = ("loss", "xent", "reinforce", "l2")
# running metrics of the training lines, drawn on one panel with the eval points of the same name
METRIC_KEYS = ("acc", "reward", "top_match", "top_match_first", "sample_match")
# keys of a log line that are bookkeeping, not a quantity
_META = {"time", "type", "stage", "step", "epoch", "split", "final", "count", "config_hash", "total_steps",
         "world_size", "train_seconds"}


# ------------------------------------------------------------------------------------------------
# the log
# ------------------------------------------------------------------------------------------------

def log_path(run) -> Path:
    """``run`` is a RunResult, a run directory or the log file itself."""
    path = Path(getattr(run, "run_dir", run))
    return path / LOG_NAME if path.is_dir() else path


def read_log(run) -> pd.DataFrame:
    """All lines of a run's ``log.jsonl`` as a DataFrame (one row per line, missing keys NaN).

    A run that was resumed logs a "resume" line and continues its steps; lines that cannot be
    parsed (a write cut short by a kill) are skipped. ``elapsed_s`` is the wall time since the
    first line."""
    path = log_path(run)
    if not path.exists():
        raise FileNotFoundError(f"no training log at {path}; train the run first (get_trained)")
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if "time" in df:
        df["elapsed_s"] = df["time"] - df["time"].iloc[0]
    if "final" in df:
        df["final"] = df["final"].astype("boolean").fillna(False).astype(bool)
    return df


def train_rows(log: pd.DataFrame) -> pd.DataFrame:
    """The training lines, by step (a step logged twice, e.g. around a resume, keeps the last)."""
    if log.empty or "type" not in log:
        return log
    tr = log[log["type"] == "train"]
    return tr.drop_duplicates("step", keep="last").sort_values("step").dropna(axis=1, how="all").reset_index(drop=True)


def eval_rows(log: pd.DataFrame, split: str | None = None, final: bool | None = None) -> pd.DataFrame:
    """The evaluation lines (optionally of one ``split``; ``final`` True/False keeps only the
    closing / the periodic evaluations)."""
    if log.empty or "type" not in log:
        return log
    ev = log[log["type"] == "eval"]
    if split is not None:
        ev = ev[ev["split"] == split]
    if final is not None and "final" in ev:
        ev = ev[ev["final"] == final]
    return ev.dropna(axis=1, how="all").reset_index(drop=True)


def quantities(rows: pd.DataFrame) -> list[str]:
    """Numeric columns of ``rows`` that are quantities (not bookkeeping)."""
    return [c for c in rows.columns if c not in _META and c != "elapsed_s" and pd.api.types.is_numeric_dtype(rows[c])]


def log_summary(log: pd.DataFrame) -> dict:
    """Steps, epochs, wall time and mean throughput of a run, from its log."""
    tr = train_rows(log)
    end = log[log["type"] == "end"] if "type" in log else log.iloc[:0]
    out = {"steps": int(tr["step"].max()) if len(tr) else 0,
           "epochs": int(tr["epoch"].max()) + 1 if len(tr) and "epoch" in tr else 0,
           "resumed": int((log["type"] == "resume").sum()) if "type" in log else 0}
    if len(end) and "train_seconds" in end:
        out["train_seconds"] = float(end["train_seconds"].iloc[-1])
    if "images_per_s" in tr and len(tr):
        out["images_per_s"] = float(tr["images_per_s"].median())
    return out


# ------------------------------------------------------------------------------------------------
# learning curves
# ------------------------------------------------------------------------------------------------

def _epoch_steps(log: pd.DataFrame) -> list[int]:
    """Steps at which an epoch ended, from the periodic evaluations (or the epoch column)."""
    ev = eval_rows(log, final=False) if "final" in log else eval_rows(log)
    if len(ev) and "step" in ev:
        return sorted(set(int(s) for s in ev["step"]))
    tr = train_rows(log)
    if "epoch" in tr and len(tr) > 1:
        return [int(s) for s in tr.groupby("epoch")["step"].max().iloc[:-1]]
    return []


def plot_learning_curves(log: pd.DataFrame, title: str | None = None, metrics: Iterable[str] | None = None,
                         eval_metrics: Iterable[str] | None = None, eval_split: str | None = "val",
                         log_loss: bool | None = None) -> plt.Figure:
    """Four panels against the training step: the loss and its terms; the running training metrics
    (lines) with the evaluations of ``eval_split`` (markers; the final one a star); the learning
    rate; the throughput. Epoch ends are faint vertical lines.

    ``metrics`` / ``eval_metrics``: which training / evaluation quantities to draw (defaults: the
    stage's usual ones present in the log). ``log_loss``: log-scale loss axis (default: when the
    loss spans more than two decades, e.g. the masked-target losses of location pretraining)."""
    tr = train_rows(log)
    if tr.empty:
        raise ValueError("the log has no training lines")
    ev = eval_rows(log, eval_split) if eval_split else log.iloc[:0]
    metrics = [m for m in (metrics or METRIC_KEYS) if m in tr]
    if eval_metrics is None:
        eval_metrics = [k for k in quantities(ev) if k in metrics or k in ("acc", "target_match", "target_match_first")]
    eval_metrics = [k for k in eval_metrics if k in ev]
    epochs = _epoch_steps(log)
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.6))
    ax = axes[0, 0]
    loss_keys = [k for k in LOSS_KEYS if k in tr]
    for k, key in enumerate(loss_keys):
        label = f"{key} (mean {tr[key].abs().mean():.1e})" if key == "l2" else key
        ax.plot(tr["step"], tr[key], label=label, color=f"C{k}", lw=2.0 if key == "loss" else 1.2,
                ls="-" if key == "loss" else "--")
    if log_loss is None:
        pos = tr["loss"][tr["loss"] > 0]
        log_loss = len(pos) == len(tr) and pos.max() / max(pos.min(), 1e-12) > 100
    if log_loss:
        ax.set_yscale("symlog", linthresh=1e-2)
    else:
        ax.axhline(0, color="0.6", lw=0.6)
    ax.set(title="Loss and its terms (training batches)" + (" · symlog axis" if log_loss else ""), ylabel="value")
    ax.legend(fontsize=8, ncol=2, loc="best")
    ax = axes[0, 1]
    colors = {}
    for key in list(metrics) + [k for k in eval_metrics if k not in metrics]:
        colors[key] = f"C{len(colors)}"
    for key in metrics:
        ax.plot(tr["step"], tr[key], color=colors[key], lw=1.2, label=f"{key} (train)")
    periodic = ev[~ev["final"]] if "final" in ev else ev
    final = ev[ev["final"]] if "final" in ev else ev.iloc[:0]
    for key in eval_metrics:
        label = f"{key} ({eval_split})"
        if len(periodic):
            ax.plot(periodic["step"], periodic[key], "o:", color=colors[key], ms=5, lw=0.8, label=label)
            label = None
        if len(final):
            ax.plot(final["step"], final[key], "*", color=colors[key], ms=13, mec="k", mew=0.5, label=label)
    ax.set(title=f"Metrics · lines: training batches, markers: {eval_split}, \u2605 final", ylabel="fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax = axes[1, 0]
    ax.plot(tr["step"], tr["lr"], color="C4")
    ax.set(title="Learning rate", ylabel="lr")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax = axes[1, 1]
    if "images_per_s" in tr:
        ax.plot(tr["step"], tr["images_per_s"], color="C5")
        med = tr["images_per_s"].median()
        ax.axhline(med, color="0.4", ls=":", lw=1)
        ax.text(0.99, 0.04, f"median {med:,.0f} images/s", transform=ax.transAxes, ha="right", fontsize=8)
    ax.set(title="Throughput (training images per second)", ylabel="images / s")
    ax.set_ylim(bottom=0)
    for a in axes.flat:
        a.set_xlabel("step")
        for s in epochs:
            a.axvline(s, color="0.8", lw=0.8, zorder=0)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_policy_runs(logs: dict, eval_glimpses: int) -> plt.Figure:
    """Runs of the policy stage side by side (``logs``: {name: log of :func:`read_log`}, a colour
    each): the training reward against the step, and the validation accuracy after each epoch of the
    learned policy (argmax, circles) and of a random policy (crosses) at ``eval_glimpses`` glimpses."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, (name, log) in enumerate(logs.items()):
        tr = train_rows(log)
        axes[0].plot(tr["step"], tr["reward"], color=f"C{k}", label=name)
        ev = eval_rows(log, "val")
        axes[1].plot(ev["step"], ev["acc"], "o-", color=f"C{k}", label=f"{name}: learned")
        axes[1].plot(ev["step"], ev["acc_random"], "x:", color=f"C{k}", label=f"{name}: random")
    axes[0].set(xlabel="step", ylabel="reward (training batches)", ylim=(0, 1.02), title="Reward as training goes")
    axes[1].set(xlabel="step", ylabel="top-1 (val)", ylim=(0, 1.02),
                title=f"Validation accuracy, {eval_glimpses} glimpses (x: random policy)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------

def metrics_table(metrics: dict) -> pd.DataFrame:
    """Final metrics (``run.metrics`` or ``metrics.json``): one row per metric, one column per split."""
    splits = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    df = pd.DataFrame(splits)
    if "count" in df.index:
        df = pd.concat([df.drop(index="count"), df.loc[["count"]]])
    df.index.name = "metric"
    return df


def _preset_comments() -> dict[tuple[str, str, str], str]:
    """{(preset, section, key): the comment on that key's line in presets.py}."""
    from saccader.train import presets

    src = Path(presets.__file__).read_text()
    lines = src.splitlines()
    tree = ast.parse(src)
    out: dict[tuple[str, str, str], str] = {}

    def comment(node) -> str:
        text = lines[node.end_lineno - 1]
        return text.split("#", 1)[1].strip() if "#" in text else ""

    def sections(preset: str, pv) -> None:
        for sk, sv in zip(pv.keys, pv.values):
            if sk is None or not isinstance(sv, ast.Dict):  # a ** of another preset's sections
                continue
            for kk, kv in zip(sv.keys, sv.values):
                if kk is not None:
                    out[(preset, sk.value, kk.value)] = comment(kv)

    for node in ast.walk(tree):
        target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        if isinstance(target, ast.Name) and target.id == "PRESETS":  # PRESETS = {"tiny": {...}, ...}
            for pk, pv in zip(node.value.keys, node.value.values):
                sections(pk.value, pv)
        elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == "PRESETS"
              and isinstance(node.value, ast.Dict)):  # PRESETS["name"] = {...}
            sections(target.slice.value, node.value)
    return out


def _reason(comments: dict, preset: str, section: str, key: str) -> str:
    """The comment on a preset's key, else on the same key of the preset it copies, when the value
    is the same there (``presets.PRESET_BASES``)."""
    from saccader.train.presets import PRESET_BASES, PRESETS

    if comments.get((preset, section, key)):
        return comments[(preset, section, key)]
    base = PRESET_BASES.get(preset)
    if base and PRESETS[base].get(section, {}).get(key, object()) == PRESETS[preset].get(section, {}).get(key):
        return _reason(comments, base, section, key)
    return ""


def config_table(cfg, keys: Iterable[str] | None = None, only_preset: bool = False) -> pd.DataFrame:
    """The resolved config of a run with where each value comes from ("preset <name>: <stage>",
    "preset <name>: common", "override" or "default") and, for preset values, the reason written
    beside it in ``presets.py``. A key set in the stage section without a comment inherits the
    reason of the same key in the common section. ``only_preset`` keeps the values the preset sets."""
    from saccader.train.config import TrainConfig
    from saccader.train.presets import PRESETS

    d = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    preset, stage = d.get("preset", ""), d.get("stage", "")
    common = PRESETS.get(preset, {}).get("common", {})
    section = PRESETS.get(preset, {}).get(stage, {})
    comments = _preset_comments()
    defaults = TrainConfig().to_dict()
    rows = []
    for key in keys or d:
        value = d[key]
        norm = list(value) if isinstance(value, tuple) else value
        if key in section:
            src, expected = f"preset {preset}: {stage}", section[key]
            reason = _reason(comments, preset, stage, key) or _reason(comments, preset, "common", key)
        elif key in common:
            src, expected = f"preset {preset}: common", common[key]
            reason = _reason(comments, preset, "common", key)
        else:
            src, expected, reason = "default", defaults.get(key), ""
        expected = list(expected) if isinstance(expected, tuple) else expected
        if key in ("stage", "preset", "run_dir", "init_from"):
            src, reason = "run", ""
        elif norm != expected:
            src, reason = "override", ""
        if only_preset and not src.startswith(("preset", "override")):
            continue
        rows.append({"key": key, "value": str(value), "from": src, "reason": reason})
    return pd.DataFrame(rows).set_index("key")


def scale_line(cfg, metrics: dict | None = None) -> str:
    """One sentence saying at what scale a run's numbers were produced."""
    d = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    train = d.get("max_train_images") or "all"
    evaluated = d.get("max_eval_images") or "all"
    length = f"{d['steps']} steps" if d.get("steps") else f"{d['epochs']} epoch(s)"
    text = (f"preset {d['preset']!r}: model {d['model']} on the {d['dataset']} data set, {train} training images, "
            f"{length} at batch {d['batch_size']} ({d['optimizer']}, lr {d['lr']:g}, {d['schedule']} schedule)")
    if metrics:
        counts = {k: v.get("count") for k, v in metrics.items() if isinstance(v, dict) and "count" in v}
        text += "; evaluated on " + ", ".join(f"{n} {k} images" for k, n in counts.items())
        if "train_seconds" in metrics:
            text += f"; {metrics['train_seconds']:.0f} s of training"
    else:
        text += f"; evaluated on {evaluated} images per split"
    return text + "."


# ------------------------------------------------------------------------------------------------
# the behaviour of trained models (computed by saccader.evaluation.behaviour)
# ------------------------------------------------------------------------------------------------

def plot_per_location_accuracy(acc: dict, num_classes: int) -> plt.Figure:
    """A BagNet's test accuracy (``evaluation.per_location_accuracy``): the full image, one cell
    averaged over cells and the best cell, against chance; and the accuracy of each cell alone as a
    map (the values written in the cells up to a 10 x 10 grid)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 1.1]})
    values = [acc["full_image"], acc["per_location"], acc["best_cell"]]
    axes[0].bar(["full image", "per location\n(mean over cells)", "best cell"], values, color=["C0", "C1", "C2"])
    axes[0].axhline(1 / num_classes, color="0.5", ls=":", lw=1)
    axes[0].text(-0.45, 1 / num_classes + 0.01, "chance", fontsize=7, color="0.4", ha="left")
    axes[0].set(ylim=(0, 1), ylabel="top-1 accuracy", title=f"Test accuracy ({acc['images']} images)")
    for i, v in enumerate(values):
        axes[0].text(i, v + 0.02, f"{v:.3f}", ha="center", fontsize=9)
    im = axes[1].imshow(acc["map"], cmap="viridis", vmin=0, vmax=max(acc["map"].max(), 1e-3))
    grid = acc["map"].shape[0]
    if grid <= 10:
        for i in range(grid):
            for j in range(grid):
                axes[1].text(j, i, f"{acc['map'][i, j]:.2f}", ha="center", va="center", fontsize=7, color="k")
    axes[1].set(title="Accuracy of each cell alone", xlabel="grid column", ylabel="grid row")
    axes[1].grid(False)
    plt.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def plot_location_behaviour(match: pd.DataFrame, curves: pd.DataFrame, cells: int,
                            full_image_accuracy: float) -> plt.Figure:
    """The pretrained location network: how often its cell at step t is the t-th ordered-logits
    target or among the targets (``evaluation.location_target_match``; chance: one of ``cells``),
    and its test accuracy against glimpses under each policy (``evaluation.glimpse_accuracy``)
    beside the BagNet's on the full image."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    w = 0.4
    axes[0].bar(match["step"] - w / 2, match["target_match"], w, label="exactly the t-th target")
    axes[0].bar(match["step"] + w / 2, match["in_target_set"], w, label=f"among the {len(match)} targets")
    axes[0].axhline(1 / cells, color="0.5", lw=0.8, ls=":")
    axes[0].set(xlabel="step t", ylabel="fraction of test images", ylim=(0, 1.05), xticks=match["step"],
                title=f"Pretrained policy (argmax) against the ordered-logits targets ({int(match['images'][0])} images)")
    axes[0].legend(fontsize=8)
    for k, (policy, df) in enumerate(curves.groupby("policy", sort=False)):
        axes[1].plot(df["glimpses"], df["accuracy"], "o-", ms=4, label=policy, color=f"C{k}")
    axes[1].axhline(full_image_accuracy, color="0.3", ls="--", lw=1, label="BagNet, full image")
    axes[1].set(xlabel="glimpses", ylabel="top-1 accuracy", ylim=(0, 1.02), title="Accuracy against glimpses (test)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_classnet_against_saccader(both: pd.DataFrame, full_image_accuracy: float, images: int) -> plt.Figure:
    """Test accuracy against glimpses at the same Saccader locations, one line per column of
    ``both`` (indexed by glimpses: the Saccader's own read-out, the ClassNet's), beside the
    Saccader's BagNet on the full image."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, col in enumerate(both.columns):
        ax.plot(both.index, both[col], "o-", ms=5, color=f"C{k}", label=col)
    ax.axhline(full_image_accuracy, color="0.3", ls="--", lw=1, label="Saccader's BagNet, full image")
    low = min(both.min().min(), full_image_accuracy)
    ax.set(xlabel="glimpses (same Saccader locations)", ylabel="top-1 accuracy (test)", ylim=(max(0, low - 0.1), 1.0),
           title=f"ClassNet against the Saccader ({images} test images)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


GLIMPSE_STYLES = {"learned": "o-", "random": "x:", "ordered_logits": "s--"}  # by policy; other policies "d-."


def plot_glimpse_accuracy(curves: pd.DataFrame, trained_glimpses: int) -> plt.Figure:
    """Test accuracy against glimpses of several models (a colour each) under each policy (a line
    style): ``curves`` as ``evaluation.runs_glimpse_accuracy`` returns it; a vertical line at the
    number of glimpses used in training."""
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    for k, (name, df) in enumerate(curves.groupby("model", sort=False)):
        for policy, d in df.groupby("policy", sort=False):
            ax.plot(d["glimpses"], d["accuracy"], GLIMPSE_STYLES.get(policy, "d-."), ms=4, color=f"C{k}",
                    label=f"{name}: {policy}")
    ax.axvline(trained_glimpses, color="0.6", lw=0.8)
    ax.text(trained_glimpses + 0.1, 0.03, "T used in training", fontsize=8, color="0.4")
    ax.set(xlabel="glimpses", ylabel="top-1 accuracy (test)", ylim=(0, 1.02),
           title=f"Accuracy against glimpses ({int(curves['images'].iloc[0])} test images)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def plot_dram_behaviour(behaviour: pd.DataFrame, locations: np.ndarray, saccader_curve: pd.DataFrame,
                        trained_glimpses: int, num_classes: int, max_steps_shown: int = 8):
    """Two panels: DRAM's test accuracy against glimpses (last-step and mean-of-steps readouts,
    the Saccader's learned policy, chance) from ``evaluation.dram_behaviour`` / ``evaluation.glimpse_accuracy``;
    and where DRAM looks (its mean locations, coloured by step)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2))
    ax = axes[0]
    ax.plot(behaviour["glimpses"], behaviour["acc_step_logits"], "o-", ms=4, label="DRAM (last step logits)")
    ax.plot(behaviour["glimpses"], behaviour["acc_mean_logits"], "s--", ms=4, label="DRAM (mean of step logits)")
    ax.plot(saccader_curve["glimpses"], saccader_curve["accuracy"], "^-", ms=4, label="Saccader (learned)")
    ax.axvline(trained_glimpses, color="0.6", lw=0.8)
    ax.text(trained_glimpses + 0.1, 0.03, "T used in training", fontsize=8, color="0.4")
    ax.axhline(1 / num_classes, color="0.5", ls=":", lw=1, label="chance")
    ax.set(xlabel="glimpses", ylabel="top-1 accuracy (test)", ylim=(0, 1.02),
           title=f"Accuracy against glimpses ({int(behaviour['images'].iloc[0])} test images)")
    ax.legend(fontsize=8)
    ax = axes[1]
    shown = min(locations.shape[1], max_steps_shown)
    for t in range(shown):
        ax.scatter(locations[:, t, 1], locations[:, t, 0], s=6, alpha=0.35, color=plt.cm.viridis(t / max(shown - 1, 1)),
                   label=f"glimpse {t + 1}" if t in (0, shown - 1) else None)
    ax.set(xlim=(-1, 1), ylim=(1, -1), aspect="equal", xlabel="x (normalized)", ylabel="y (normalized)",
           title="Where DRAM looks (test, mean locations)")
    ax.legend(fontsize=8, markerscale=3)
    fig.tight_layout()
    return fig


def dram_location_table(behaviour: pd.DataFrame, locations: np.ndarray) -> pd.DataFrame:
    """Per glimpse: DRAM's mean (y, x) location, its spread over images and the mean move from the
    previous glimpse (normalized units)."""
    return pd.DataFrame({"glimpse": np.arange(1, locations.shape[1] + 1), "mean y": locations[:, :, 0].mean(0),
                         "mean x": locations[:, :, 1].mean(0), "spread over images": locations.std(axis=0).mean(-1),
                         "mean move from previous glimpse": behaviour["mean_move"].to_numpy()})


def supervision_table(dram_run, representation_run, grid_size: int) -> pd.DataFrame:
    """How much labelled signal each network that reads glimpses was trained on, from the runs'
    configs and logs: DRAM's glimpse network learns from one loss per image (the prediction after
    its T glimpses; T with ``dram_xent=per_step``), the BagNet from one loss per cell of every
    image (``representation_loss=per_location``: grid_size^2), or one (``full_image``). Training
    accuracy: the mean over the last epoch's logged steps."""
    rows = {}
    for name, run in (("DRAM (glimpse network + LSTM)", dram_run), ("BagNet (the Saccader's representation)",
                                                                      representation_run)):
        cfg, log = run.config, read_log(run)
        tr = train_rows(log)
        steps = int(tr["step"].max()) if len(tr) else 0
        per_epoch = steps / max(float(run.metrics.get("epochs") or cfg.epochs or 1), 1e-9)
        last = tr[tr["step"] > steps - per_epoch] if len(tr) else tr
        if cfg.stage == "dram":
            losses = cfg.num_glimpses if cfg.dram_xent == "per_step" else 1
            views = f"{cfg.num_glimpses} glimpses"
        else:
            losses = grid_size ** 2 if cfg.representation_loss == "per_location" else 1
            views = f"{grid_size}x{grid_size} cells"
        images = steps * cfg.batch_size
        rows[name] = {"training steps": steps, "images seen": images, "what it reads of an image": views,
                      "losses per image": losses, "labelled outputs in all": images * losses,
                      "training accuracy, last epoch": round(float(last["acc"].mean()), 3) if "acc" in last else float("nan"),
                      "held-out accuracy": round(float(heldout_metrics(run.metrics)["acc"]), 3)}
    return pd.DataFrame(rows).T.infer_objects().rename_axis("network")


def dram_sensor_table(net, cfg) -> pd.DataFrame:
    """DRAM's sensor and policy at a run's scale, read from the trained module and its config: the
    field of view of each resolution (px and fraction of the image side), what the classifier sees
    after the context step, the range of glimpse centres and the exploration noise in pixels, the
    reward, baseline and loss weights, and the optimizer's step. Locations are normalized: 1 unit is
    half the image side."""
    from saccader.models.dram import multi_resolution_sizes

    side, g = int(net.image_size), int(net.glimpse_size)
    half = side / 2
    sizes = multi_resolution_sizes(side, g, net.num_resolutions)
    rows = [("image side", f"{side} px", "the input DRAM reads")]
    rows += [(f"field of view, resolution {r + 1}", f"{s} px ({s / side:.2f} of the side)",
              "cropped at the location" + (", resized to " + f"{g} x {g} px" if s != g else ", at full resolution"))
             for r, s in enumerate(sizes)]
    rows.append(("what the classifier sees after the context step",
                 "the high-resolution field only" if net.limit_classification_rf else "every resolution",
                 "the low resolutions are replaced by their channel means (official limit_classification_rf)"
                 if net.limit_classification_rf else "limit_classification_rf=False"))
    rows.append(("glimpse centres", f"within +-{net.location_scale:.3f} (+-{net.location_scale * half:.1f} px of the centre)",
                 "1 - glimpse / image: a glimpse never leaves the image"))
    rows.append(("exploration in training", f"std {net.sampling_std:g} ({net.sampling_std * half:.1f} px, "
                 f"{net.sampling_std * half / g:.2f} of a glimpse side)", "Gaussian around the emitted mean; "
                 "the mean itself at test time"))
    which = "of each step" if cfg.dram_xent == "per_step" else "after the last glimpse"
    rows.append(("reward and baseline", f"1 if the prediction {which} is right, else {-1 if cfg.use_punishment else 0}; "
                 "minus the batch mean", "no division by the standard deviation (official)"))
    rows.append(("loss weights", f"cross-entropy {cfg.xent_weight:g}, REINFORCE {cfg.dram_reinforce_weight:g}",
                 f"cross-entropy of {'every step' if cfg.dram_xent == 'per_step' else 'the last step'}"))
    rows.append(("optimizer", f"{cfg.optimizer}, lr {cfg.lr:g}, {cfg.epochs:g} epochs of batch {cfg.batch_size}",
                 "the preset's choice (reasons above)"))
    return pd.DataFrame(rows, columns=["quantity", "value", "note"])


def heldout_metrics(metrics: dict) -> dict:
    """A run's closing metrics on its held-out split: the test split, or val where the preset has no
    other (Imagenette, ImageNet: val is the test set), with that split's name under ``"split"``."""
    split = "test" if "test" in metrics else "val"
    if split not in metrics:
        raise KeyError(f"the run's metrics hold neither 'test' nor 'val' (keys: {sorted(metrics)})")
    return {**metrics[split], "split": split}


__all__ = ["read_log", "train_rows", "eval_rows", "quantities", "log_summary", "plot_learning_curves",
           "plot_policy_runs", "metrics_table", "config_table", "scale_line", "plot_per_location_accuracy",
           "plot_location_behaviour", "plot_classnet_against_saccader", "plot_glimpse_accuracy",
           "plot_dram_behaviour", "dram_location_table", "dram_sensor_table", "supervision_table", "heldout_metrics"]
