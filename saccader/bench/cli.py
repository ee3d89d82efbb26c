"""Speed benchmarks (not tests): forward throughput of every model, and training throughput of
every stage (``saccader.bench.train``).

``python -m saccader benchmark forward --scale tiny`` times each model's forward pass at its own
input size and prints images/s, the median time per batch, the ratio to a baseline timed in the
same process (the scale's BagNet), parameters, GFLOPs per image and, on a GPU, the achieved
fraction of the device's peak bf16 throughput (MFU) when the peak is known.
"""
from __future__ import annotations

from saccader.bench.models import SCALES, forward_benchmark


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
        raise ConfigError(f"--models applies to 'benchmark forward' only ('benchmark {what}' times every stage's "
                          "preset model); drop --models")
    if what == "threads" and device not in (None, "cpu"):
        raise ConfigError(f"--device {device}: 'benchmark threads' times CPU threads; drop --device")
    unknown = [m for m in models or [] if m not in list_models()]
    if unknown:
        raise ConfigError(f"--models {' '.join(unknown)}: no such model; choose among {', '.join(list_models())}")


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser("benchmark", help="time the forward pass of every model, or the training of every stage")
    p.add_argument("what", choices=["forward", "train", "threads"],
                   help="forward: every model's forward pass; train: every stage's training step; threads: every "
                        "stage's training step on the CPU with 1 thread and with every core")
    p.add_argument("--scale", default="tiny", choices=list(SCALES), help="tiny models on 96 px, or the paper's models")
    p.add_argument("--models", nargs="+", help="model names (default: every model of the scale)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch", type=int)
    p.add_argument("--repeats", type=int, default=5)

    def run(a):
        check_arguments(a.what, a.scale, a.models, a.device, a.batch, a.repeats)
        if a.what == "forward":
            forward_benchmark(a.scale, a.models, a.device, a.batch, a.repeats)
        elif a.what == "threads":
            from saccader.bench import train as train_benchmark

            train_benchmark.thread_scaling(scale=a.scale, repeats=a.repeats, batch=a.batch)
        else:
            from saccader.bench import train as train_benchmark

            train_benchmark.main(scale=a.scale, device=a.device, repeats=a.repeats)
        return 0

    p.set_defaults(func=run)
