"""What every benchmark shares: timing on a synchronised device, FLOP counting, the GPUs' bf16 peak
(for the MFU), the device's results folder and the CSV + provenance JSON a benchmark writes.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

# Dense bf16 peak, FLOP/s, of GPUs we may run on (for the MFU estimate); the first key contained
# in the device name wins, so the specific variants come before the generic names.
PEAK_BF16 = {"H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 989e12, "GH200": 989e12,
             "A100": 312e12}


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
