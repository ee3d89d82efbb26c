"""Reading and plotting the speed benchmarks of ``benchmarks/`` (the book's benchmarks chapter).

GPU results live in ``data/benchmarks/<device kind>/`` (``h100``, ``h200``, ...), one
``<benchmark>.csv`` with a ``<benchmark>.json`` of provenance each. ``data/benchmarks/cpu/`` holds
only the CPU functional check, which :func:`cpu_check` produces in a few seconds with the tiny
models: it shows that the code runs, not how fast anything is.

The targets (project issue #6): stage-1 (representation) training at >= 40 % MFU; no slower than
ResNet-50 per FLOP (its best FLOP/s over the tried batch sizes and compile settings, divided by
ResNet-50's best, >= 1); the input pipeline faster than the training step (its best images/s over
the stage-1 step's best images/s, >= 1).
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from saccader.paths import REPO_ROOT

BENCHMARKS = ("train_throughput", "eval_throughput", "data_loading")
REFERENCE = "resnet50_reference"
TARGET_MFU = 0.40
SCRIPTS_DIR = REPO_ROOT / "benchmarks"

# the CPU check: tiny models, 1 CPU thread (2 threads on a busy 2-core machine are many times
# slower), a couple of steps each; a few seconds per script
CPU_CHECK_ARGS = {
    "train_throughput": ["--scale", "tiny", "--device", "cpu", "--batches", "2", "4", "--warmup", "1",
                         "--repeats", "1", "--threads", "1"],
    "eval_throughput": ["--scale", "tiny", "--device", "cpu", "--images", "16", "--batch", "16", "--warmup", "0",
                        "--repeats", "1", "--seeds", "1", "--threads", "1"],
    "data_loading": ["--device", "cpu", "--images", "16", "--batch", "4", "--workers", "0", "1", "--gpu-workers", "0",
                     "--warmup", "1", "--batches", "2", "--repeats", "1", "--threads", "1"],
}


def benchmarks_root() -> Path:
    """``$SACCADER_BENCHMARKS`` or ``<repo>/data/benchmarks``."""
    return Path(os.environ.get("SACCADER_BENCHMARKS") or REPO_ROOT / "data" / "benchmarks")


def load_script(name: str):
    """The module of ``benchmarks/<name>.py`` (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"saccader_benchmarks_{name}", SCRIPTS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpu_kinds(root: Path | None = None) -> list[str]:
    """Device kinds with a GPU training result (every folder but ``cpu``)."""
    root = root or benchmarks_root()
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and d.name != "cpu" and (d / "train_throughput.csv").exists())


def cpu_check(out_dir: Path | None = None, quiet: bool = True) -> Path:
    """Run the three scripts on the CPU with the tiny models (a functional check) into
    ``data/benchmarks/cpu/`` (the training results are passed to the data-loading comparison)."""
    import contextlib
    import io

    import torch

    out = Path(out_dir) if out_dir else benchmarks_root() / "cpu"
    threads = torch.get_num_threads()  # the scripts set 1 thread; restored after
    for name in BENCHMARKS:
        args = CPU_CHECK_ARGS[name] + ["--out-dir", str(out)]
        if name == "data_loading":
            args += ["--train-csv", str(out / "train_throughput.csv")]
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            load_script(name).main(args)
    torch.set_num_threads(threads)
    return out


@dataclass
class Results:
    """The benchmarks of one device kind: a frame per benchmark (absent ones missing) and their
    provenance; ``is_gpu`` False for the CPU functional check."""

    kind: str
    is_gpu: bool
    frames: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.is_gpu:
            return "CPU functional check (tiny models), NOT a performance result"
        dev = self.provenance.get("train_throughput", {}).get("device", self.kind)
        return f"{dev}"

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)


def read(kind: str, root: Path | None = None) -> Results:
    folder = (root or benchmarks_root()) / kind
    res = Results(kind, kind != "cpu")
    for name in BENCHMARKS:
        csv = folder / f"{name}.csv"
        if csv.exists():
            res.frames[name] = pd.read_csv(csv)
            js = csv.with_suffix(".json")
            res.provenance[name] = json.loads(js.read_text()) if js.exists() else {}
    return res


def load_results(kind: str | None = None, run_cpu_check: bool = True, root: Path | None = None) -> Results:
    """The GPU results of ``kind`` (default: the first GPU kind found); without any, the CPU
    functional check (run now when ``run_cpu_check``, else read from ``data/benchmarks/cpu``)."""
    kinds = gpu_kinds(root)
    if kind is None and kinds:
        kind = kinds[0]
    if kind is not None and kind != "cpu":
        return read(kind, root)
    if run_cpu_check:
        cpu_check((root or benchmarks_root()) / "cpu")
    return read("cpu", root)


# ------------------------------------------------------------------------------------------------
# targets
# ------------------------------------------------------------------------------------------------

def _ok(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None:
        return pd.DataFrame()
    return df[df["status"] == "ok"]


def _best(df: pd.DataFrame, stage: str, column: str):
    rows = df[df["stage"] == stage] if not df.empty else df
    if rows.empty or rows[column].isna().all():
        return None
    return rows.loc[rows[column].idxmax()]


def targets(res: Results) -> pd.DataFrame:
    """One row per target: what is required, what was measured (at the best configuration), the
    ratio measured / required and whether it is met (None where the device cannot measure it)."""
    train, data = _ok(res.get("train_throughput")), _ok(res.get("data_loading"))
    rows = []
    if not res.is_gpu:  # the CPU check's numbers say nothing about the targets
        train, data = train.iloc[0:0], data.iloc[0:0]

    def add(target, required, measured, where, unit=""):
        if measured is None or not np.isfinite(measured):
            rows.append({"target": target, "required": required, "measured": np.nan, "ratio": np.nan,
                         "met": None,
                         "where": where or ("needs the GPU results" if not res.is_gpu else "not in the results")})
        else:
            rows.append({"target": target, "required": required, "measured": measured,
                         "ratio": measured / required, "met": bool(measured >= required), "where": where})

    rep = _best(train, "representation", "mfu")
    add("stage-1 training MFU (bf16 peak)", TARGET_MFU, None if rep is None else rep["mfu"],
        None if rep is None else _config(rep))
    rep_f, ref_f = _best(train, "representation", "tflops_per_s"), _best(train, REFERENCE, "tflops_per_s")
    ratio = None if rep_f is None or ref_f is None else rep_f["tflops_per_s"] / ref_f["tflops_per_s"]
    add("stage-1 FLOP/s / ResNet-50 FLOP/s", 1.0, ratio,
        None if ratio is None else f"{_config(rep_f)} vs ResNet-50 {_config(ref_f)}")
    rep_i = _best(train, "representation", "images_per_s")
    pipe = data.loc[data["images_per_s"].idxmax()] if not data.empty else None
    ratio = None if rep_i is None or pipe is None else pipe["images_per_s"] / rep_i["images_per_s"]
    add("input pipeline images/s / stage-1 step images/s", 1.0, ratio,
        None if ratio is None else f"{pipe['pipeline']} ({int(pipe['workers'])} workers) vs {_config(rep_i)}")
    return pd.DataFrame(rows)


def _config(row) -> str:
    return f"batch {int(row['batch'])}, compile {'on' if bool(row['compile']) else 'off'}"


def stage_summary(res: Results) -> pd.DataFrame:
    """Per stage, its best configuration by images/s, with its FLOP ratio to ResNet-50 and MFU."""
    train = _ok(res.get("train_throughput"))
    if train.empty:
        return pd.DataFrame()
    best = train.loc[train.groupby("stage")["images_per_s"].idxmax()]
    cols = ["stage", "model", "input", "batch", "compile", "images_per_s", "gflops_per_image", "tflops_per_s",
            "flops_ratio_to_resnet50", "mfu", "peak_mem_gib"]
    return best[cols].reset_index(drop=True)


def statement(res: Results) -> str:
    """Markdown: where the numbers come from and, for each target, by how much it is met or missed."""
    if not res.is_gpu:
        head = ("**No GPU results yet.** `data/benchmarks/` holds no GPU folder, so this page cannot say how fast "
                "training, evaluation or data loading is. What follows is the **CPU functional check**: the three "
                "benchmark scripts run for a few seconds with the tiny models at 96 px on this machine's CPU, to "
                "show that they run end to end and what they write. Its numbers are **not performance results** "
                "and say nothing about the targets. The commands that produce the real numbers are in "
                "`benchmarks/README.md`.")
        return head
    prov = res.provenance.get("train_throughput", {})
    lines = [f"Results of **{res.label}** (commit `{str(prov.get('git_commit'))[:8]}`, torch {prov.get('torch')}, "
             f"{prov.get('time')})."]
    for _, t in targets(res).iterrows():
        if t["met"] is None:
            lines.append(f"* {t['target']}: not measured ({t['where']}).")
        else:
            verdict = "met" if t["met"] else "missed"
            lines.append(f"* {t['target']}: {t['measured']:.3g} against {t['required']:.3g} required: **{verdict}** "
                         f"({t['ratio']:.2f} x the target; {t['where']}).")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------

def plot_train(res: Results) -> plt.Figure:
    """Images/s, FLOP/s relative to ResNet-50, MFU and peak memory against the batch size, one
    line per stage (solid: eager, dashed: torch.compile), ResNet-50 in black."""
    df = _ok(res.get("train_throughput"))
    panels = [("images_per_s", "training images/s"), ("flops_ratio_to_resnet50", "FLOP/s ÷ ResNet-50's"),
              ("mfu", "MFU (bf16 peak)"), ("peak_mem_gib", "peak memory (GiB)")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    stages = [s for s in df["stage"].unique() if s != REFERENCE] if not df.empty else []
    for ax, (col, title) in zip(axes, panels):
        ax.set(title=title, xlabel="batch size per device")
        if df.empty or df[col].isna().all():
            ax.text(0.5, 0.5, "not measured on the CPU" if not res.is_gpu else "no data", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
            ax.set(xticks=[], yticks=[])
            continue
        for k, stage in enumerate([REFERENCE] + stages):
            for compiled, style in ((False, "-"), (True, "--")):
                sub = df[(df["stage"] == stage) & (df["compile"].astype(bool) == compiled)].sort_values("batch")
                if sub.empty:
                    continue
                color = "black" if stage == REFERENCE else f"C{k - 1}"
                label = ("ResNet-50" if stage == REFERENCE else stage) + (" (compiled)" if compiled else "")
                ax.plot(sub["batch"], sub[col], style, marker="o", ms=4, color=color, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(df["batch"].unique()))
        ax.xaxis.set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(plt.matplotlib.ticker.NullLocator())
        if col == "mfu":
            ax.axhline(TARGET_MFU, color="C3", lw=1, ls=":")
            ax.text(ax.get_xlim()[0], TARGET_MFU, " 40 % target", color="C3", va="bottom", fontsize=8)
        if col == "flops_ratio_to_resnet50":
            ax.axhline(1.0, color="black", lw=1, ls=":")
        if col == "images_per_s":
            ax.set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)) or 1, bbox_to_anchor=(0.5, 1.1), fontsize=8)
    fig.suptitle(res.label, y=1.16, fontsize=10, color="C3" if not res.is_gpu else "black")
    fig.tight_layout()
    return fig


def plot_eval_data(res: Results) -> plt.Figure:
    """Left: images/s of each pass of the evaluation sweep and of the whole sweep. Right: images/s
    of each input pipeline, with the stage-1 and fastest training step as lines."""
    ev, data, train = _ok(res.get("eval_throughput")), _ok(res.get("data_loading")), _ok(res.get("train_throughput"))
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
    if not ev.empty:
        labels = [f"{m}/{p}" if m != "sweep" else "whole sweep" for m, p in zip(ev["method"], ev["policy"])]
        colors = ["C3" if m == "sweep" else "C0" for m in ev["method"]]
        axes[0].barh(labels, ev["images_per_s"], color=colors)
        axes[0].invert_yaxis()
        axes[0].tick_params(axis="y", labelsize=8)
    axes[0].set(title=f"evaluation, {int(ev['glimpses'].iloc[0]) if not ev.empty else 12} glimpses", xlabel="images/s")
    if not data.empty:
        labels = [f"{p} ({w} workers)" for p, w in zip(data["pipeline"], data["workers"])]
        axes[1].barh(labels, data["images_per_s"], color="C2")
        axes[1].invert_yaxis()
        rep = _best(train, "representation", "images_per_s")
        if rep is not None:
            axes[1].axvline(rep["images_per_s"], color="C1", ls="--", label=f"stage-1 training step ({_config(rep)})")
            axes[1].legend(fontsize=8, loc="lower right")
    axes[1].set(title=f"input pipeline, {int(data['input'].iloc[0]) if not data.empty else 224} px", xlabel="images/s")
    fig.suptitle(res.label, fontsize=10, color="C3" if not res.is_gpu else "black")
    fig.tight_layout()
    return fig


__all__ = ["load_results", "read", "gpu_kinds", "cpu_check", "targets", "stage_summary", "statement",
           "plot_train", "plot_eval_data", "Results"]
