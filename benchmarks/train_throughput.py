"""Training throughput of every stage at the paper's geometry, with torchvision's ResNet-50 as the
reference timed in the same process (project issue #6).

    python benchmarks/train_throughput.py                        # on an H100-class GPU
    python benchmarks/train_throughput.py --scale tiny --device cpu --batches 4 --repeats 1   # check

For each stage (representation, location, policy, classnet, dram, fullimage), each batch size and torch.compile
off / on, it times the stage's training step exactly as the engine runs it (the stage's loss,
backward, gradient clipping when the preset clips, optimizer step; the preset's autocast and memory
format: bf16 and channels_last on a GPU, and at the tiny scale on a CPU too, DRAM in fp32) on a fixed random batch: median over ``--repeats`` steps after ``--warmup`` steps. It
counts the FLOPs of one step (forward + backward, torch.utils.flop_counter), and reports images/s,
achieved FLOP/s, FLOP/s as a ratio to ResNet-50's at the same batch and compile setting, MFU
against the bf16 peak of the GPU and the peak memory allocated.

Scale ``imagenet``: BagNet-77-lowD, Saccader-77 (224 px, 1001 classes, T = 6; T = 12 for location
pretraining), NASNet ClassNet at 331 px, DRAM; ResNet-50 at 224 px, 1000 classes. Scale ``tiny``: the
tiny models at 96 px (ClassNet 144 px), ResNet-50 at 96 px, 10 classes.

Writes ``data/benchmarks/<device kind>/train_throughput.{csv,json}`` (see benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import gc
import sys

import torch

from saccader.bench.core import cpu_notice, setup_device, write_results
from saccader.bench.train import measure, reference_step, stage_step
from saccader.train.config import STAGES

NAME = "train_throughput"
COLUMNS = ["device_kind", "device", "stage", "model", "input", "batch", "amp", "channels_last", "compile",
           "repeats", "median_s", "min_s", "max_s", "images_per_s", "gflops_per_image", "tflops_per_s",
           "flops_ratio_to_resnet50", "mfu", "peak_mem_gib", "status"]
REFERENCE = "resnet50_reference"
DEFAULT_BATCHES = {"imagenet": [32, 64, 128, 256], "tiny": [8]}
REF_SETTINGS = {"imagenet": {"size": 224, "num_classes": 1000}, "tiny": {"size": 96, "num_classes": 10}}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="imagenet", choices=["imagenet", "tiny"],
                   help="imagenet: the paper's geometry (default); tiny: tiny models at 96 px, for checks")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--batches", type=int, nargs="+", help="batch sizes per GPU (default: 32 64 128 256; tiny: 8)")
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    p.add_argument("--compile", choices=["off", "on", "both"],
                   help="torch.compile of the model (default: both on a GPU, off on the CPU)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    p.add_argument("--repeats", type=int, default=10, help="timed steps; the median is reported")
    p.add_argument("--no-reference", action="store_true", help="skip the ResNet-50 reference")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; 1 is fastest on a busy CPU)")
    p.add_argument("--out-dir", help="where to write (default: data/benchmarks/<device kind>/)")
    return p.parse_args(argv)


def _release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        torch._dynamo.reset()
    except Exception:  # noqa: BLE001 - older torch without dynamo
        pass


def _timed(make, device, warmup, repeats, flop_cache: dict, key) -> dict:
    """Build a step with ``make()``, time it, and turn failures (out of memory, compile errors) into
    a row with a status instead of stopping the sweep."""
    step = None
    try:
        step = make()
        row = measure(step, device, warmup, repeats, flop_cache.get(key))
        flop_cache[key] = row["gflops_per_image"] * row["batch"] * 1e9
        row["status"] = "ok"
    except torch.cuda.OutOfMemoryError:
        row = {"status": "out of memory"}
    except Exception as exc:  # noqa: BLE001 - report and go on with the next configuration
        row = {"status": f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    del step
    _release()
    return row


def main(argv=None) -> list[dict]:
    a = parse_args(argv)
    dev, kind, desc = setup_device(a.device, a.threads, "training throughput")
    batches = a.batches or DEFAULT_BATCHES[a.scale]
    compile_modes = {"off": [False], "on": [True], "both": [False, True]}[a.compile or ("both" if dev.type == "cuda" else "off")]
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(f"{'stage':20s} {'model':26s} {'batch':>5s} {'comp':>5s} {'img/s':>9s} {'ms':>8s} {'GF/img':>7s} "
          f"{'TF/s':>7s} {'xR50':>6s} {'MFU':>6s} {'GiB':>6s}  status", flush=True)
    rows, flop_cache = [], {}
    for compiled in compile_modes:
        for b in batches:
            jobs = [] if a.no_reference else [(REFERENCE, lambda b=b, c=compiled: reference_step(
                "resnet50", device=str(dev), batch=b, compile=c, **REF_SETTINGS[a.scale]))]
            jobs += [(s, lambda s=s, b=b, c=compiled: stage_step(s, a.scale, str(dev), b, compile=c)) for s in a.stages]
            ref = None
            for name, make in jobs:
                row = _timed(make, dev, a.warmup, a.repeats, flop_cache, (name, b))
                row = {"device_kind": kind, "device": desc, "stage": name, "batch": b, "compile": compiled, **row}
                if name == REFERENCE and row["status"] == "ok":
                    ref = row["tflops_per_s"]
                row["flops_ratio_to_resnet50"] = row["tflops_per_s"] / ref if ref and row["status"] == "ok" else float("nan")
                rows.append(row)
                _print(row)
    path = write_results(rows, NAME, dev, COLUMNS, settings={**vars(a), "batches": batches,
                                                             "compile_modes": compile_modes}, out_dir=a.out_dir)
    print(f"wrote {path} and {path.with_suffix('.json').name}", flush=True)
    notice = cpu_notice(dev, "training throughput")
    if notice:
        print(notice, flush=True)
    return rows


def _print(r: dict) -> None:
    if r["status"] != "ok":
        print(f"{r['stage']:20s} {'':26s} {r['batch']:5d} {str(r['compile']):>5s}  {r['status']}", flush=True)
        return
    print(f"{r['stage']:20s} {r['model']:26s} {r['batch']:5d} {str(r['compile']):>5s} {r['images_per_s']:9.1f} "
          f"{r['median_s'] * 1e3:8.1f} {r['gflops_per_image']:7.2f} {r['tflops_per_s']:7.3f} "
          f"{r['flops_ratio_to_resnet50']:6.2f} {_na(r['mfu'], '6.1%')} {_na(r['peak_mem_gib'], '6.2f')}  ok", flush=True)


def _na(value: float, fmt: str) -> str:
    """``value`` formatted, or n/a (MFU and memory on the CPU)."""
    return f"{'n/a':>6s}" if value != value else format(value, fmt)


if __name__ == "__main__":
    main(sys.argv[1:])
