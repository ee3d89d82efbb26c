"""``train STAGE --preset NAME --run-dir DIR [--config FILE.yaml] [--set key=value ...] [--data-dir D]``

Examples::

    python -m saccader train representation --preset tiny --run-dir runs/tiny/representation
    python -m saccader train location --preset tiny --run-dir runs/tiny/location \\
        --init-from runs/tiny/representation
    torchrun --standalone --nproc_per_node=8 -m saccader.train.cli train representation \\
        --preset imagenet --data-dir /data/ILSVRC2012 --run-dir runs/imagenet/representation

Re-running the same command resumes from the run directory's last checkpoint.
"""
from __future__ import annotations

import argparse

from saccader.train.config import STAGES, parse_set_args


def add_subparser(subparsers) -> argparse.ArgumentParser:
    from saccader.train.presets import preset_names

    p = subparsers.add_parser(
        "train", help="train one stage (representation, location, policy, classnet, dram, fullimage)",
        description="Train one stage. Re-running the same command resumes from the last checkpoint in --run-dir.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=STAGES, help="the stage to train")
    p.add_argument("--preset", default="tiny", help=f"settings of every stage ({', '.join(preset_names())})")
    p.add_argument("--run-dir", help="where checkpoints and logs go (default runs/<preset>/<stage>)")
    p.add_argument("--config", help="YAML file of config keys (applied after the preset)")
    p.add_argument("--set", dest="overrides", action="append", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set lr=0.01 steps=100 dataset_kwargs.seed=1")
    p.add_argument("--data-dir", help="data set folder (required by --preset imagenet)")
    p.add_argument("--init-from", help="run dir or checkpoint of the previous stage (location <- representation, "
                                       "policy <- location, classnet <- policy)")
    p.set_defaults(func=run)
    c = subparsers.add_parser(
        "chain", help="train every run of a preset's evaluation, one process each, recording time and memory",
        description="Train every run the evaluation of a preset reads (representation, location, policy, the policy "
                    "without location pretraining, classnet, dram, fullimage), each in its own process, into the "
                    "run cache (runs/<preset>/), and write OUT.csv / OUT.json (wall seconds, peak memory, training "
                    "seconds and final val accuracy of each run; commit and machine) and OUT_logs.jsonl (the "
                    "learning curves). Runs already trained are reused; an interrupted run resumes.")
    c.add_argument("--preset", default="tiny", help=f"settings of every stage ({', '.join(preset_names())})")
    c.add_argument("--data-dir", help="data set folder (required by the imagenet and imagenette presets)")
    c.add_argument("--out", help="where the table goes, without suffix (default data/results/<preset>/training)")
    c.set_defaults(func=run_chain)
    return p


def run_chain(args) -> int:
    from saccader import paths
    from saccader.train.presets import require_data_dir
    from saccader.train.runs import CHAIN_RUNS, train_measured

    require_data_dir(args.preset, args.data_dir)
    out = args.out or str(paths.results_dir(args.preset) / "training")
    chain = {"data_dir": str(args.data_dir)} if args.data_dir else {}
    train_measured(args.preset, CHAIN_RUNS, out, chain)
    return 0


def run(args) -> int:
    """Resolve the config, then train. A bad input raises ``ConfigError`` (or ``CheckpointError``)
    before anything is written; ``saccader.cli.run_command`` prints it on one line (exit 2)."""
    from saccader import paths
    from saccader.train import engine
    from saccader.train.presets import resolve_config

    overrides = parse_set_args([item for group in args.overrides for item in group])
    run_dir = args.run_dir or str(paths.runs_dir() / args.preset / args.stage)
    cfg = resolve_config(args.stage, args.preset, config_file=args.config, overrides=overrides,
                         data_dir=args.data_dir, run_dir=run_dir, init_from=args.init_from)
    engine.main(cfg)
    return 0


def main(argv: list[str] | None = None) -> int:
    from saccader.cli import run_command

    parser = argparse.ArgumentParser(prog="python -m saccader.train.cli")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_subparser(sub)
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
