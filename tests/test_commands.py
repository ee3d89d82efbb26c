"""The printed training commands chain the stages into the run folders the notebooks' cache uses."""
import pytest

from saccader.commands import CHAIN, stage_commands
from saccader.train.cache import run_dir_for
from saccader.train.config import ConfigError


def test_tiny_chain_matches_the_cache(tmp_path):
    steps = stage_commands("tiny", runs_root=tmp_path)
    assert [s.stage for s in steps] == [c[0] for c in CHAIN]
    by = {(s.stage, bool(s.overrides)): s for s in steps}
    rep, loc, pol = by[("representation", False)], by[("location", False)], by[("policy", False)]
    assert loc.init_from == rep.run_dir and pol.init_from == loc.run_dir
    assert by[("policy", True)].init_from == rep.run_dir  # the ablation starts from the BagNet only
    assert by[("classnet", False)].init_from == pol.run_dir and by[("dram", False)].init_from is None
    for s in steps:
        assert s.run_dir == run_dir_for(s.config, tmp_path)
        assert f"--run-dir {s.run_dir}" in s.command and s.command.startswith("python -m saccader train")


def test_imagenet_commands_use_torchrun_and_need_the_data():
    steps = stage_commands("imagenet", data_dir="/data/ILSVRC2012", nproc=8)
    assert all(s.command.startswith("torchrun --standalone --nproc_per_node=8 -m saccader.train.cli train") for s in steps)
    assert all("--data-dir /data/ILSVRC2012" in s.command for s in steps)
    assert "--set init_location=scratch" in steps[3].command
    with pytest.raises(ConfigError, match="--data-dir"):
        stage_commands("imagenet")


def test_the_book_trains_the_runs_of_its_training_chapters_first():
    """``python -m saccader book`` trains the chain, then runs the chapters side by side: the chain
    must hold a run of every training chapter's stage, and the measuring page must exist."""
    from saccader import book, paths
    from saccader.train.runs import CHAIN_RUNS

    training, reading, measuring = book.notebook_phases(book.toc_notebooks(paths.book_dir()))
    assert [nb.stem for nb in measuring] == list(book.MEASURING)
    assert {nb.stem for nb in training} == {f"{book.TRAINING_PREFIX}{stage}" for stage, _ in CHAIN_RUNS.values()}
    assert not set(training) & set(reading)
