"""Training throughput of every stage (not a test): images/s of one full training step (forward,
losses, backward, optimizer step) with the preset's model, loss and optimizer, on random images.

    python -m saccader benchmark train --scale tiny            # CPU, and the GPU when there is one
    python -m saccader.train.benchmark --scale imagenet --device cuda

Each number is the median over ``repeats`` timed steps after ``warmup`` untimed ones (the device
is synchronized around each step). On a GPU the engine's settings are used: bf16 autocast and
channels_last. Weights are random (no previous stage is loaded): the speed does not depend on them.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from saccader.train.config import STAGES

DEFAULT_BATCH = {"tiny": 32, "imagenet": 32}  # per device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stage_throughput(stage: str, preset: str = "tiny", device: str = "cpu", batch: int | None = None,
                     warmup: int = 2, repeats: int = 5) -> dict:
    """Median images/s of the training step of ``stage`` under ``preset`` on ``device``."""
    from saccader.train import engine
    from saccader.train.presets import PRESETS
    from saccader.train.config import TrainConfig, apply_overrides
    from saccader.train.stages import get_stage

    cfg = apply_overrides(TrainConfig(stage=stage, preset=preset), PRESETS[preset]["common"])
    cfg = apply_overrides(cfg, PRESETS[preset].get(stage, {}))
    dev = torch.device(device)
    spec = get_stage(stage)
    torch.manual_seed(0)
    net = spec.build(cfg, load=False).to(dev)
    channels_last = dev.type == "cuda"
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    amp = "bf16" if dev.type == "cuda" else "none"
    params = spec.trainable(net, cfg)
    opt = engine.build_optimizer(cfg, net, params)
    b = batch or DEFAULT_BATCH.get(preset, 32)
    size = net.cfg.input_size[-1]
    x = torch.randn(b, 3, size, size, device=dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, net.cfg.num_classes, (b,), device=dev)
    spec.set_train_mode(net, cfg)

    def step():
        with engine.autocast(amp, dev):
            loss, _ = spec.loss(net, net, x, y, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(dev)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"stage": stage, "model": cfg.model, "device": str(dev), "amp": amp, "batch": b, "input": size,
            "median_s": med, "images_per_s": b / med}


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
