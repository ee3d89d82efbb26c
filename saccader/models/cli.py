"""``python -m saccader models``: the registered models, their geometry and parameter counts."""
from __future__ import annotations

import pandas as pd


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the registered models with their geometry and parameter counts")
    p.add_argument("names", nargs="*", help="models to describe (default: all)")

    def run(a):
        from saccader.models import list_models
        from saccader.train.config import ConfigError

        unknown = [name for name in a.names if name not in list_models()]
        if unknown:
            raise ConfigError(f"{' '.join(unknown)}: no such model; choose among {', '.join(list_models())} "
                              "(or give no name to list them all)")
        from saccader.report.summary import model_table

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(model_table(a.names or None).to_string(index=False))
        return 0

    p.set_defaults(func=run)
