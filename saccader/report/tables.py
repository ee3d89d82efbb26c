"""Tables as the book shows them.

A DataFrame shown in a chapter goes through :func:`show`: no 0, 1, 2 ... index column (a named
index becomes the first column), "—" where a value is not given (with a footnote saying so),
percentages with their sign, paths relative to the repository, and a table that wraps its headers
and cells to the page width instead of running past it (``book/_static/book.css``).

    from saccader.report import tables
    tables.show(df, percent=["top1", "top5"], fraction=["coverage"])   # as a cell's last line
    tables.use_book_tables()   # every DataFrame a cell displays is shown this way (plotting.use_style)
"""
from __future__ import annotations

import html
import re
from typing import Iterable

import numpy as np
import pandas as pd

from saccader import paths

MISSING = "—"
MISSING_NOTE = "—: no value (not measured, not applicable or not stated)."
CSS_CLASS = "book-table"


def _plain(value) -> bool:
    try:
        return bool(pd.isna(value))  # None, NaN, NaT, pd.NA
    except (TypeError, ValueError):
        return False


def _number(value, digits: int | None) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    v = float(value)
    if digits is not None:
        return f"{v:.{digits}f}"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def _column_numbers(col: pd.Series) -> dict:
    """The non-missing values of a float column written with the same number of decimals (as
    pandas prints them), by index."""
    if not pd.api.types.is_float_dtype(col):
        return {}
    values = col.dropna()
    if values.empty:
        return {}
    if (values == values.round()).all() and values.abs().max() < 1e15:
        return {i: _number(int(v), None) for i, v in values.items()}
    from pandas.io.formats.format import format_array

    values = values.map(lambda v: float(f"{v:.4g}"))  # at most 4 significant digits
    return dict(zip(values.index, (t.strip() for t in format_array(values.to_numpy(), None))))


def _breakable(value) -> str:
    """``value`` as HTML text that may wrap after "_", "/", "=" and "," (names, paths, settings),
    where a line would otherwise run past the column."""
    return re.sub(r"([_/=,])", r"\1<wbr>", html.escape(str(value)))


class Table:
    """A DataFrame formatted for the book: HTML for the pages, plain text for the console."""

    def __init__(self, df: pd.DataFrame, cells: pd.DataFrame, note: str | None, caption: str | None):
        self.df, self.cells, self.note, self.caption = df, cells, note, caption

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{_breakable(c)}</th>" for c in self.cells.columns)
        numeric = [pd.api.types.is_numeric_dtype(self.df[c]) for c in self.df.columns]
        rows = []
        for _, row in self.cells.iterrows():
            tds = "".join(f'<td class="num">{html.escape(str(v))}</td>' if n else f'<td class="text">{_breakable(v)}</td>'
                          for v, n in zip(row, numeric))
            rows.append(f"<tr>{tds}</tr>")
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        note = f'<p class="{CSS_CLASS}-note">{html.escape(self.note)}</p>' if self.note else ""
        wide = f" {CSS_CLASS}-wide" if len(self.cells.columns) > 8 else ""
        return (f'<div class="{CSS_CLASS}-wrap"><table class="{CSS_CLASS}{wide}">{caption}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table>{note}</div>')

    def __repr__(self) -> str:
        text = self.cells.to_string(index=False)
        return text + (f"\n{self.note}" if self.note else "")


def show(df: pd.DataFrame | pd.Series, percent: Iterable[str] = (), fraction: Iterable[str] = (),
         digits: dict[str, int] | int | None = None, names: dict[str, str] | None = None,
         note: str | None = None, missing_note: str = MISSING_NOTE, caption: str | None = None) -> Table:
    """``df`` as the book shows it.

    ``percent``: columns holding percentages (70.31 -> "70.31%"); ``fraction``: columns holding
    fractions shown as percentages (0.2947 -> "29.47%"); ``digits``: decimals (per column or for
    all numbers; default: up to 4 significant digits); ``names``: new column headers. A missing
    value is written "—" and ``missing_note`` is added under the table; ``note`` is added too."""
    if isinstance(df, pd.Series):
        df = df.to_frame()
    df = df.copy()
    if isinstance(df.columns, pd.MultiIndex):
        df.columns = [" · ".join(str(p) for p in c if str(p)) for c in df.columns]
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        names_ = [n if n is not None else ("" if df.index.nlevels == 1 else f"level {i}")
                  for i, n in enumerate(df.index.names)]
        df.index = df.index.set_names(names_)
        df = df.reset_index()
    df.columns = [str(c) for c in df.columns]
    percent, fraction = set(percent), set(fraction)
    per_col = digits if isinstance(digits, dict) else {}
    default = digits if isinstance(digits, int) else None
    cells = pd.DataFrame(index=df.index, columns=df.columns, dtype=object)
    missing = False
    for col in df.columns:
        d = per_col.get(col, default)
        out = []
        same = _column_numbers(df[col]) if d is None and col not in percent | fraction else {}
        for i, v in zip(df.index, df[col]):
            if i in same:
                out.append(same[i])
                continue
            if _plain(v):
                out.append(MISSING)
                missing = True
            elif col in percent or col in fraction:
                x = float(v) * (100 if col in fraction else 1)
                out.append(f"{x:.{2 if d is None else d}f}%")
            elif isinstance(v, (int, float, np.integer, np.floating)):
                out.append(_number(v, d))
            else:
                out.append(paths.on_page_text(str(v)))
        cells[col] = out
    if names:
        cells.columns = [names.get(c, c) for c in df.columns]
    notes = " ".join(n for n in ((missing_note if missing else None), note) if n)
    return Table(df, cells, notes or None, caption)


def accuracy(df: pd.DataFrame, **kwargs) -> Table:
    """:func:`show` for the evaluation's tables: ``top1`` and ``top5`` (and their ``_sd``) in
    percent, ``coverage`` (a fraction of the image) as a percentage."""
    percent = [c for c in df.columns if str(c).startswith(("top1", "top5"))]
    fraction = [c for c in df.columns if str(c).startswith("coverage") and str(c) != "coverage_percent"]
    percent += [c for c in df.columns if str(c) == "coverage_percent"]
    return show(df, percent=kwargs.pop("percent", percent), fraction=kwargs.pop("fraction", fraction), **kwargs)


def _format_frame(df):
    return show(df)._repr_html_()


def use_book_tables() -> None:
    """Show every DataFrame (and Series) a notebook cell displays through :func:`show`."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with the book
        return
    ip = get_ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, _format_frame)
    formatter.for_type(pd.Series, _format_frame)


__all__ = ["show", "accuracy", "Table", "use_book_tables", "MISSING", "MISSING_NOTE"]
