"""The exact shell commands that train every stage of a preset, in order, into the run folders
that the notebooks' cache (:func:`saccader.train.runs.get_trained`) looks for.

Training a large preset with ``torchrun`` first and then running the book finds every stage
already trained, so the notebooks only evaluate and plot::

    from saccader.commands import stage_commands
    for step in stage_commands("imagenet", data_dir="/data/ILSVRC2012", nproc=8):
        print(step.command)
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

# (stage, overrides, what it is) in the order they must run
CHAIN = (
    ("representation", {}, "BagNet classification"),
    ("location", {}, "location pretraining (BagNet frozen)"),
    ("policy", {}, "policy gradient, whole model"),
    ("policy", {"init_location": "scratch"}, "ablation: policy gradient without location pretraining"),
    ("classnet", {}, "Saccader-ClassNet on the trained Saccader's glimpses"),
    ("dram", {}, "DRAM baseline"),
    ("fullimage", {}, "full-image CNN reference"),
)


@dataclass
class StageCommand:
    stage: str
    description: str
    run_dir: Path
    init_from: Path | None
    overrides: dict
    command: str
    config: object  # the resolved TrainConfig


def stage_commands(preset: str, data_dir: str | None = None, nproc: int = 1, nnodes: int = 1,
                   runs_root: str | Path | None = None, chain_overrides: dict | None = None) -> list[StageCommand]:
    """One :class:`StageCommand` per step of :data:`CHAIN`. ``nproc`` GPUs per node, ``nnodes``
    nodes (multi-node: add ``--rdzv-endpoint HOST:PORT`` and ``--node-rank`` as torchrun needs)."""
    from saccader import paths
    from saccader.train.cache import planned_run

    root = Path(runs_root) if runs_root is not None else paths.runs_dir()
    chain = {**(chain_overrides or {}), **({"data_dir": str(data_dir)} if data_dir else {})}
    out = []
    for stage, extra, description in CHAIN:
        overrides = {**(chain_overrides or {}), **extra}
        run_dir, cfg = planned_run(stage, preset, extra, chain_overrides=chain, runs_root=root)
        init = Path(cfg.init_from) if cfg.init_from else None
        if nproc * nnodes > 1:
            launcher = ["torchrun"] + (["--standalone"] if nnodes == 1 else [f"--nnodes={nnodes}"]) + \
                       [f"--nproc_per_node={nproc}", "-m", "saccader.train.cli"]
        else:
            launcher = ["python", "-m", "saccader"]
        args = launcher + ["train", stage, "--preset", preset, "--run-dir", str(paths.shown(run_dir))]
        if data_dir:
            args += ["--data-dir", str(data_dir)]
        if init is not None:
            args += ["--init-from", str(paths.shown(init))]
        if overrides:
            args += ["--set"] + [f"{k}={v}" for k, v in overrides.items()]
        out.append(StageCommand(stage, description, run_dir, init, overrides, shlex.join(args), cfg))
    return out


IMAGENET_TRAIN_IMAGES = 1_281_167  # ILSVRC-2012 training set


def training_budget(preset: str = "imagenet", data_dir: str | None = "/data", train_images: int | None = None,
                    mfu: float = 0.4, peak_flops: float = 989e12) -> "pandas.DataFrame":
    """An estimate (not a measurement) of each stage's training compute: forward FLOPs per image
    counted by ``torch.utils.flop_counter`` on the stage's model, x 3 for forward + backward (an upper
    bound for stages with frozen parts), x images per epoch x epochs; GPU-hours at ``mfu`` of
    ``peak_flops`` (default: 40 % of an H100's dense bf16 peak). Also the memory of the weights,
    gradients and optimizer state (activations come on top and depend on the batch)."""
    import pandas as pd
    import torch

    from saccader.bench.core import count_flops
    from saccader.train.stages import get_stage

    if train_images is None:
        train_images = IMAGENET_TRAIN_IMAGES if preset == "imagenet" else None
    rows = []
    for step in stage_commands(preset, data_dir=data_dir):
        cfg = step.config
        net = get_stage(cfg.stage).build(cfg, load=False).eval()
        size = net.cfg.input_size
        call = {"policy": dict(num_glimpses=cfg.num_glimpses), "location": dict(num_glimpses=cfg.num_glimpses),
                "dram": dict(num_glimpses=cfg.num_glimpses), "classnet": dict(num_glimpses=cfg.num_glimpses)}.get(cfg.stage, {})
        x = torch.randn(1, *size)
        with torch.no_grad():
            flops = count_flops(lambda: net(x, **call))
        n_images = train_images or cfg.max_train_images
        total = 3 * flops * n_images * cfg.epochs
        trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
        params = sum(p.numel() for p in net.parameters())
        states = 2 if cfg.optimizer.startswith("adam") else 1
        rows.append({
            "stage": cfg.stage + (" (no location pretraining)" if step.overrides.get("init_location") == "scratch" else ""),
            "model": cfg.model, "input_px": size[-1], "epochs": cfg.epochs, "batch": cfg.batch_size,
            "gflops_per_image": flops / 1e9, "train_pflops": total / 1e15,
            "gpu_hours_estimate": total / (mfu * peak_flops) / 3600,
            "weights_and_optimizer_gib": (params * 4 + trained * 4 * (1 + states)) / 2 ** 30,
        })
    return pd.DataFrame(rows)


__all__ = ["CHAIN", "StageCommand", "stage_commands", "training_budget", "IMAGENET_TRAIN_IMAGES"]
