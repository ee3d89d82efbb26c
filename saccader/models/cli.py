"""``python -m saccader models``: the registered models, their geometry and parameter counts."""
from __future__ import annotations

import pandas as pd
import torch.nn as nn


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Trainable parameters, and the paper's way of counting (TF variables: BN moving mean and
    variance included, ``num_batches_tracked`` not)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    bn_stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    return {"trainable": trainable, "frozen": frozen, "with_bn_statistics": trainable + frozen + bn_stats}


def model_table(names: list[str] | None = None) -> pd.DataFrame:
    """One row per model: geometry, preprocessing and parameter counts."""
    from saccader.models import create_model, list_models

    rows = []
    for name in names or list_models():
        model = create_model(name)
        cfg = model.cfg
        rows.append({"model": name, "input": cfg.input_size[-1], "glimpse": cfg.glimpse_size, "grid": cfg.grid_size,
                     "stride": cfg.stride, "receptive_field": cfg.receptive_field, "classes": cfg.num_classes,
                     **parameter_counts(model)})
        del model
    return pd.DataFrame(rows)


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
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(model_table(a.names or None).to_string(index=False))
        return 0

    p.set_defaults(func=run)
