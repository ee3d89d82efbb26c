"""Speed benchmarks (not tests): forward throughput of every model, and training throughput of
every stage (``saccader.train.benchmark``).

``python -m saccader benchmark forward --scale tiny`` times each model's forward pass at its own
input size and prints images/s, the median time per batch, the ratio to a baseline timed in the
same process (the scale's BagNet), parameters, GFLOPs per image and, on a GPU, the achieved
fraction of the device's peak bf16 throughput (MFU) when the peak is known.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

# Dense bf16 peak, FLOP/s, of GPUs we may run on (for the MFU estimate); the first key contained
# in the device name wins, so the specific variants come before the generic names.
PEAK_BF16 = {"H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 989e12, "GH200": 989e12,
             "A100": 312e12}

SCALES = {
    "tiny": {"baseline": "bagnet33_tiny", "batch": 64},
    "imagenet": {"baseline": "bagnet77_lowd", "batch": 8},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int = 2, repeats: int = 5) -> list[float]:
    """Wall seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs (device synchronised)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def device_kind(device: torch.device | str) -> str:
    """Folder name of a device's results: ``cpu``, or the GPU's model in lower case (``h100``,
    ``h100-pcie``, ``a100``; otherwise the device name made file-safe)."""
    import re

    dev = torch.device(device)
    if dev.type != "cuda":
        return dev.type
    name = torch.cuda.get_device_name(dev)
    key = next((k for k in PEAK_BF16 if k in name), None)
    return re.sub(r"[^a-z0-9]+", "-", (key or name.replace("NVIDIA", "")).lower()).strip("-")


def results_dir(device: torch.device | str, root=None):
    """``data/benchmarks/<device kind>/`` (``$SACCADER_BENCHMARKS`` or ``root`` replaces ``data/benchmarks``)."""
    import os
    from pathlib import Path

    from saccader.paths import REPO_ROOT

    base = Path(root) if root else Path(os.environ.get("SACCADER_BENCHMARKS") or REPO_ROOT / "data" / "benchmarks")
    return base / device_kind(device)


def write_results(rows: list[dict], name: str, device: torch.device | str, columns: list[str],
                  settings: dict | None = None, out_dir=None):
    """Write ``<out_dir>/<name>.csv`` (``columns`` in order) and ``<name>.json`` (provenance: commit,
    versions, device; the benchmark's settings). ``out_dir`` defaults to :func:`results_dir`.
    Returns the CSV path."""
    import json
    from pathlib import Path

    import pandas as pd

    from saccader.provenance import provenance

    out = Path(out_dir) if out_dir else results_dir(device)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    for col in columns:
        if col not in frame:
            frame[col] = float("nan")
    frame[columns].to_csv(out / f"{name}.csv", index=False)
    dev = torch.device(device)
    info = provenance(device=dev, extra={"benchmark": name, "device_kind": device_kind(dev),
                                         "peak_bf16_flops": peak_flops(dev), "settings": settings or {},
                                         "columns": columns})
    (out / f"{name}.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    return out / f"{name}.csv"


def cpu_notice(device: torch.device | str, what: str) -> str | None:
    """The warning printed above CPU numbers (None on a GPU)."""
    if torch.device(device).type == "cuda":
        return None
    return (f"*** {what} on the CPU: a functional check of the benchmark code, NOT a performance result. "
            "Run it on an H100-class GPU for the numbers (benchmarks/README.md). ***")


def setup_device(device: str | None, threads: int | None, what: str) -> tuple[torch.device, str, str]:
    """The start of every benchmark script: the device (default cuda when available), the CPU
    thread count, and the CPU notice printed above CPU numbers. Returns (device, kind, description)."""
    from saccader.provenance import device_description

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if threads:
        torch.set_num_threads(threads)
    notice = cpu_notice(dev, what)
    if notice:
        print(notice, flush=True)
    return dev, device_kind(dev), device_description(dev)


def count_flops(fn: Callable[[], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def models_of_scale(scale: str) -> list[str]:
    from saccader.models import get_model_cfg, list_models

    tiny = [m for m in list_models() if m.endswith("_tiny")]
    return tiny if scale == "tiny" else [m for m in list_models() if m not in tiny and get_model_cfg(m).num_classes > 100]


def forward_benchmark(scale: str = "tiny", models: list[str] | None = None, device: str | None = None,
                      batch: int | None = None, repeats: int = 5, amp: bool | None = None) -> list[dict]:
    from saccader.models import create_model

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = dev.type == "cuda" if amp is None else amp
    batch = batch or SCALES[scale]["batch"]
    names = [SCALES[scale]["baseline"]] + [m for m in (models or models_of_scale(scale)) if m != SCALES[scale]["baseline"]]
    rows, base = [], None
    for name in names:
        model = create_model(name).to(dev).eval()
        if dev.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        x = torch.randn(batch, *model.cfg.input_size, device=dev)

        def run():
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                return model(x)

        flops = count_flops(run) / batch
        times = time_call(run, dev, repeats=repeats)
        med = statistics.median(times)
        base = base or med
        params = sum(p.numel() for p in model.parameters())
        row = {"model": name, "device": str(dev), "batch": batch, "input": "x".join(map(str, model.cfg.input_size[1:])),
               "median_s": med, "images_per_s": batch / med, "ratio_to_baseline": med / base,
               "params_M": params / 1e6, "gflops_per_image": flops / 1e9}
        peak = peak_flops(dev)
        if peak:
            row["mfu"] = flops * batch / med / peak
        rows.append(row)
        print(_format_row(row), flush=True)
        del model
    return rows


def _format_row(r: dict) -> str:
    mfu = f"  MFU {r['mfu']:.1%}" if "mfu" in r else ""
    return (f"{r['model']:28s} {r['device']:6s} batch {r['batch']:3d} @ {r['input']:7s} "
            f"{r['images_per_s']:9.1f} img/s  median {r['median_s'] * 1e3:8.1f} ms  x{r['ratio_to_baseline']:.2f} vs baseline  "
            f"{r['params_M']:7.2f} M params  {r['gflops_per_image']:7.2f} GFLOP/img{mfu}")


def check_arguments(what: str, scale: str, models: list[str] | None, device: str | None, batch: int | None,
                    repeats: int) -> None:
    """The command line's arguments, checked before anything is timed (``ConfigError``: one line,
    exit status 2)."""
    from saccader.models import list_models
    from saccader.train.config import ConfigError, check_device, check_min

    if scale not in SCALES:
        raise ConfigError(f"--scale {scale!r} is not a scale; choose one of {', '.join(SCALES)}")
    if device is not None:
        check_device(device, flag="--device")
    check_min("--batch", batch, 1, SCALES[scale]["batch"])
    check_min("--repeats", repeats, 1, 5)
    if models and what != "forward":
        raise ConfigError("--models applies to 'benchmark forward' only ('benchmark train' times every stage's "
                          "preset model); drop --models")
    unknown = [m for m in models or [] if m not in list_models()]
    if unknown:
        raise ConfigError(f"--models {' '.join(unknown)}: no such model; choose among {', '.join(list_models())}")


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser("benchmark", help="time the forward pass of every model, or the training of every stage")
    p.add_argument("what", choices=["forward", "train"])
    p.add_argument("--scale", default="tiny", choices=list(SCALES), help="tiny models on 96 px, or the paper's models")
    p.add_argument("--models", nargs="+", help="model names (default: every model of the scale)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch", type=int)
    p.add_argument("--repeats", type=int, default=5)

    def run(a):
        check_arguments(a.what, a.scale, a.models, a.device, a.batch, a.repeats)
        if a.what == "forward":
            forward_benchmark(a.scale, a.models, a.device, a.batch, a.repeats)
        else:
            from saccader.train import benchmark as train_benchmark

            train_benchmark.main(scale=a.scale, device=a.device, repeats=a.repeats)
        return 0

    p.set_defaults(func=run)
