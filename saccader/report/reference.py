"""The paper's own numbers, read from ``data/paper`` with the figure/table/page they come from."""
from __future__ import annotations

import pandas as pd

from saccader import paths


def paper_table(name: str) -> pd.DataFrame:
    """Load ``data/paper/<name>.csv`` (``headline`` or ``parameter_counts``)."""
    path = paths.paper_dir() / f"{name}.csv"
    if not path.exists():
        known = sorted(p.stem for p in paths.paper_dir().glob("*.csv"))
        raise FileNotFoundError(f"no paper table {name!r} at {path}; known tables: {', '.join(known)}")
    return pd.read_csv(path)


def paper_value(model: str, metric: str, images: int = 50000) -> tuple[float, float | None, str]:
    """``(value, spread or None, source)`` of one headline number of the paper."""
    df = paper_table("headline")
    row = df[(df.model == model) & (df.metric == metric) & (df.images == images)]
    if len(row) != 1:
        raise KeyError(f"the paper reports no single {metric!r} for {model!r} on {images} images")
    r = row.iloc[0]
    spread = None if pd.isna(r.spread) else float(r.spread)
    return float(r.value), spread, str(r.source)
