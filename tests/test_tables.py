"""Tables and paths as the book's pages show them (saccader.report.tables, saccader.paths.on_page) and
figure text legible at the page's width (saccader.report.plotting.legible)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from saccader import paths  # noqa: E402
from saccader.report import plotting, tables  # noqa: E402


def test_no_index_dash_and_footnote_for_missing_values():
    df = pd.DataFrame({"method": ["a", "b"], "top1": [70.314, np.nan], "coverage": [0.2947, 0.5]})
    t = tables.show(df, percent=["top1"], fraction=["coverage"])
    html = t._repr_html_()
    assert "NaN" not in html and "nan" not in html
    assert "<th></th>" not in html and "<tbody><tr><th" not in html
    assert "70.31%" in html and "29.47%" in html and "50.00%" in html
    assert tables.MISSING in html and "book-table-note" in html
    assert "book-table-note" not in tables.show(df.dropna())._repr_html_()


def test_named_index_becomes_a_column_and_numbers_share_decimals():
    df = pd.DataFrame({"acc": [0.5, 0.25]}, index=pd.Index(["val", "test"], name="split"))
    t = tables.show(df)
    assert list(t.cells.columns) == ["split", "acc"]
    assert list(t.cells["acc"]) == ["0.50", "0.25"]
    assert list(tables.show(pd.DataFrame({"n": [50000.0, 3.0]})).cells["n"]) == ["50,000", "3"]


def test_absolute_paths_are_written_relative(monkeypatch, tmp_path):
    inside = paths.REPO_ROOT / "data" / "results" / "tiny" / "curves.csv"
    assert paths.on_page(inside) == "data/results/tiny/curves.csv"
    monkeypatch.setenv("SACCADER_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "tiny" / "policy-1234"
    assert paths.on_page(run) == "$SACCADER_RUNS/tiny/policy-1234"
    text = tables.show(pd.DataFrame({"run": [str(run)], "url": ["https://example.org/a/b"]}))._repr_html_()
    text = text.replace("<wbr>", "")  # break opportunities after "/" and "_"
    assert str(tmp_path) not in text and "$SACCADER_RUNS/tiny/policy-1234" in text
    assert "https://example.org/a/b" in text
    assert paths.on_page_text(f"see {inside} and 1/2") == "see data/results/tiny/curves.csv and 1/2"


def test_figure_text_is_raised_to_the_smallest_legible_size():
    plotting.use_style()
    fig, ax = plt.subplots(figsize=(11, 4))  # wider than the page: shown scaled down
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(fontsize=6)
    ax.annotate("small", (0.5, 0.5), fontsize=5)
    assert plotting.displayed_points(fig, 5) < plotting.MIN_PT
    smallest = plotting.legible(fig)
    assert smallest >= plotting.MIN_PT - 1e-6
    plt.close(fig)
