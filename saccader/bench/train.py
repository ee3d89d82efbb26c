"""Training throughput of every stage (not a test): images/s of one full training step (forward,
losses, backward, optimizer step) with the preset's model, loss and optimizer, on random images.

    python -m saccader benchmark train --scale tiny            # CPU, and the GPU when there is one
    python -m saccader.bench.train --scale imagenet --device cuda

Each number is the median over ``repeats`` timed steps after ``warmup`` untimed ones (the device
is synchronized around each step). On a GPU the engine's settings are used: bf16 autocast and
channels_last. Weights are random (no previous stage is loaded): the speed does not depend on them.

``stage_step`` and ``reference_step`` build one timed step (a stage's, or a torchvision model's as the
reference) and ``measure`` times it with its FLOPs, MFU and peak memory; ``benchmarks/train_throughput.py``
sweeps them over batch sizes and torch.compile.
"""
from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from typing import Callable

import torch

from saccader.bench.core import count_flops, peak_flops, time_call
from saccader.train.config import STAGES

DEFAULT_BATCH = {"tiny": 32, "imagenet": 32}  # per device


@dataclass
class Step:
    """One training step ready to be timed: ``run()`` does loss, backward and optimizer step on a
    fixed random batch; ``eager`` is the same step without ``torch.compile`` (for counting FLOPs)."""

    name: str
    model: str
    input: int
    batch: int
    amp: str
    channels_last: bool
    compiled: bool
    run: Callable[[], None]
    eager: Callable[[], None]
    modules: tuple = ()  # kept alive with the step; released by ``del``


def _batch(b: int, size: int, num_classes: int, dev: torch.device, channels_last: bool):
    x = torch.randn(b, 3, size, size, device=dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.randint(0, num_classes, (b,), device=dev)


def stage_step(stage: str, preset: str = "tiny", device: str = "cpu", batch: int | None = None,
               amp: str | None = None, channels_last: bool | None = None, compile: bool = False) -> Step:
    """The training step of ``stage`` exactly as ``engine.train_one_epoch`` runs it: the preset's
    model (random weights), optimizer, loss, backward, gradient clipping when the preset clips,
    optimizer step; the preset's autocast and memory format as the engine resolves them on
    ``device`` by default (the tiny preset: bf16 autocast and channels_last on a CPU too, DRAM in
    fp32), and ``torch.compile`` of the model as ``--set compile=true`` does."""
    from saccader.train import engine
    from saccader.train.presets import resolve_config
    from saccader.train.stages import get_stage

    # the imagenet preset wants a data folder; it is not read when only the model is built
    cfg = resolve_config(stage, preset, data_dir="(not read)" if preset == "imagenet" else None)
    dev = torch.device(device)
    spec = get_stage(stage)
    torch.manual_seed(0)
    net = spec.build(cfg, load=False).to(dev)
    if channels_last is None:  # the engine's choice for this config
        channels_last = cfg.channels_last == "true" or (cfg.channels_last == "auto" and dev.type == "cuda")
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    amp = engine.resolve_amp(cfg, dev) if amp is None else amp
    params = spec.trainable(net, cfg)
    opt = engine.build_optimizer(cfg, net, params)
    b = batch or DEFAULT_BATCH.get(preset, 32)
    size = net.cfg.input_size[-1]
    x, y = _batch(b, size, net.cfg.num_classes, dev, channels_last)
    spec.set_train_mode(net, cfg)
    model = torch.compile(net) if compile else net

    def make(call):
        def step():
            with engine.autocast(amp, dev):
                loss, _ = spec.loss(call, net, x, y, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
        return step

    return Step(stage, cfg.model, size, b, amp, channels_last, compile, make(model), make(net), (net, model, opt))


def reference_step(name: str = "resnet50", size: int = 224, num_classes: int = 1000, device: str = "cpu",
                   batch: int = 32, amp: str | None = None, channels_last: bool | None = None,
                   compile: bool = False) -> Step:
    """The training step of a torchvision classifier (the usual ResNet-50 recipe: cross-entropy,
    SGD with Nesterov momentum 0.9), with the same settings as :func:`stage_step`."""
    import torch.nn.functional as F
    import torchvision

    from saccader.train import engine

    dev = torch.device(device)
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(num_classes=num_classes).to(dev).train()
    channels_last = dev.type == "cuda" if channels_last is None else channels_last
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    amp = ("bf16" if dev.type == "cuda" else "none") if amp is None else amp
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x, y = _batch(batch, size, num_classes, dev, channels_last)
    model = torch.compile(net) if compile else net

    def make(call):
        def step():
            with engine.autocast(amp, dev):
                loss = F.cross_entropy(call(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    return Step(f"{name}_reference", name, size, batch, amp, channels_last, compile, make(model), make(net),
                (net, model, opt))


def measure(step: Step, device: str | torch.device, warmup: int = 2, repeats: int = 5,
            flops_per_step: float | None = None) -> dict:
    """Median seconds and images/s of ``step.run`` over ``repeats`` after ``warmup`` (the device
    synchronized around each step), FLOPs of one step (forward + backward, counted on the eager
    step by ``torch.utils.flop_counter``; pass ``flops_per_step`` to reuse a count), achieved
    FLOP/s, and on a GPU the peak memory allocated (GiB) and the MFU against the bf16 peak."""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    flops = float(flops_per_step) if flops_per_step else float(count_flops(step.eager))
    times = time_call(step.run, dev, warmup=warmup, repeats=repeats)
    med = statistics.median(times)
    peak = peak_flops(dev)
    row = {"stage": step.name, "model": step.model, "input": step.input, "batch": step.batch, "amp": step.amp,
           "channels_last": step.channels_last, "compile": step.compiled, "repeats": repeats,
           "median_s": med, "min_s": min(times), "max_s": max(times), "images_per_s": step.batch / med,
           "gflops_per_image": flops / step.batch / 1e9, "tflops_per_s": flops / med / 1e12,
           "mfu": flops / med / peak if peak else float("nan"),
           "peak_mem_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")}
    return row


def stage_throughput(stage: str, preset: str = "tiny", device: str = "cpu", batch: int | None = None,
                     warmup: int = 2, repeats: int = 5) -> dict:
    """Median images/s of the training step of ``stage`` under ``preset`` on ``device``."""
    step = stage_step(stage, preset, device, batch)
    dev = torch.device(device)
    med = statistics.median(time_call(step.run, dev, warmup=warmup, repeats=repeats))
    return {"stage": stage, "model": step.model, "device": str(dev), "amp": step.amp, "batch": step.batch,
            "input": step.input, "median_s": med, "images_per_s": step.batch / med}


def thread_scaling(scale: str = "tiny", stages: list[str] | None = None, threads: int | None = None,
                   repeats: int = 5, batch: int | None = None) -> list[dict]:
    """On the CPU, the median training step of each stage with one thread and with ``threads``
    (default: every usable core), timed in this process one after the other: the speed-up of the
    extra threads, and ``side_by_side``: how much faster ``threads`` single-threaded runs side by
    side get through their steps than one run with ``threads`` threads (``threads`` / speed-up,
    not counting what the runs take from each other's memory bandwidth). The tiny preset's thread
    count (``cpu_threads`` in ``presets.py``) was chosen from this table."""
    from saccader.train.engine import cpu_threads
    from saccader.train.runs import usable_cores

    n = int(threads or usable_cores())
    rows = []
    print(f"{'stage':15s} {'model':26s} {'amp':5s} {'1 thread ms':>12s} {f'{n} threads ms':>13s} {'speed-up':>9s} "
          f"{'side by side':>13s}", flush=True)
    for stage in stages or STAGES:
        try:
            step = stage_step(stage, scale, "cpu", batch)
        except Exception as exc:  # a model that cannot be built here
            print(f"{stage:15s} skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}", flush=True)
            continue
        med = {}
        for t in (1, n):
            with cpu_threads(t):
                med[t] = statistics.median(time_call(step.run, torch.device("cpu"), warmup=2, repeats=repeats))
        speedup = med[1] / med[n]
        rows.append({"stage": stage, "model": step.model, "amp": step.amp, "batch": step.batch, "threads": n,
                     "ms_1": med[1] * 1e3, "ms_n": med[n] * 1e3, "speedup": speedup, "side_by_side": n / speedup})
        r = rows[-1]
        print(f"{stage:15s} {step.model:26s} {step.amp:5s} {r['ms_1']:12.1f} {r['ms_n']:13.1f} {speedup:8.2f}x "
              f"{r['side_by_side']:12.2f}x", flush=True)
        del step
    return rows


def main(scale: str = "tiny", device: str | None = None, repeats: int = 5, batch: int | None = None,
         stages: list[str] | None = None) -> list[dict]:
    devices = [device] if device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows = []
    print(f"{'stage':15s} {'model':26s} {'device':7s} {'amp':5s} {'batch':>5s} {'input':>5s} "
          f"{'median ms':>10s} {'images/s':>10s}", flush=True)
    for dev in devices:
        for stage in stages or STAGES:
            try:
                r = stage_throughput(stage, scale, dev, batch, repeats=repeats)
            except Exception as exc:  # a model that does not exist yet, out of memory, ...
                print(f"{stage:15s} skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}", flush=True)
                continue
            rows.append(r)
            print(f"{r['stage']:15s} {r['model']:26s} {r['device']:7s} {r['amp']:5s} {r['batch']:5d} {r['input']:5d} "
                  f"{r['median_s'] * 1e3:10.1f} {r['images_per_s']:10.1f}", flush=True)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="tiny", choices=["tiny", "imagenet"])
    p.add_argument("--device")
    p.add_argument("--batch", type=int)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--stages", nargs="+", choices=STAGES)
    a = p.parse_args()
    main(a.scale, a.device, a.repeats, a.batch, a.stages)
