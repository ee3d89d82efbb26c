"""``python -m saccader``: one entry point, one sub-command per stage of the work.

Each sub-command lives in the module that does the work and contributes itself through
``add_subparser(subparsers)``; this file only lists them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# (module, help) in the order they appear in --help.
SUBCOMMAND_MODULES = [
    "saccader.data.cli",
    "saccader.models.cli",
    "saccader.train.cli",
    "saccader.evaluation.cli",
    "saccader.bench.cli",
    "saccader.book",
    "saccader.report.readme",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m saccader",
        description="Saccader (Elsayed, Kornblith & Le, NeurIPS 2019) reproduced in PyTorch.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subparser(subparsers)
    return parser


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes the command line reports as one line with exit status 2."""
    from saccader.errors import UserError

    types: list[type[BaseException]] = [UserError]
    try:  # the checkpoint module needs torch; without it there is no CheckpointError to catch
        from saccader.train.checkpoint import CheckpointError
    except ImportError:
        pass
    else:
        types.append(CheckpointError)
    return tuple(types)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed sub-command. A bad input (``saccader.errors.UserError``, e.g. ``ConfigError``,
    or an unusable checkpoint) prints ``error: <message>`` on one line to stderr and returns 2;
    any other exception is a bug and keeps its traceback."""
    from saccader.errors import one_line

    try:
        result = args.func(args)
    except user_error_types() as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    return int(result or 0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)
