"""The README's headline table is generated from data/ and must agree with it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from saccader import paths
from saccader.report import readme


def test_readme_table_agrees_with_the_results_files():
    assert readme.update(paths.REPO_ROOT / "README.md", check=True), (
        "README.md's headline table differs from data/results: run `python -m saccader readme --update`")
    table = readme.headline_table()
    assert table.loc["Saccader (learned)", "paper: ImageNet, 224 px"] == "70.3"  # data/paper/headline.csv
    assert "ours: embedded clutter set, 96 px" in table.columns


def test_a_stale_readme_fails_the_check_and_is_mended(tmp_path):
    copy = tmp_path / "README.md"
    text = (paths.REPO_ROOT / "README.md").read_text()
    copy.write_text(text.replace("| Saccader (learned) | 70.3 |", "| Saccader (learned) | 99.9 |"))
    check = [sys.executable, "-m", "saccader", "readme", "--check", "--readme", str(copy)]
    done = subprocess.run(check, capture_output=True, text=True, cwd=paths.REPO_ROOT)
    assert done.returncode == 1 and "differs from data/results" in done.stdout
    assert not readme.update(copy) and readme.update(copy, check=True)
    assert copy.read_text() == text
    copy.write_text("# no markers\n")
    with pytest.raises(ValueError, match="no headline-table markers"):
        readme.update(copy)
