"""The results committed in data/results/tiny were produced by the code as it is: their cache keys
(training code, evaluation code, run configurations, settings) match, so the book reuses them
instead of recomputing. A change to the training or evaluation code must come with new results
(`python -m saccader evaluate --preset tiny --what curves occlusion training_seeds`)."""
import pytest

from saccader import evaluate as E


def _refuse(*args, **kwargs):
    raise AssertionError("the committed results are stale: rerun `python -m saccader evaluate --preset tiny "
                         "--what curves occlusion training_seeds` and commit data/results/tiny")


@pytest.mark.parametrize("name, get, compute", [
    ("curves", E.get_results, "evaluate_all"),
    ("occlusion", E.get_occlusion, "occlusion_all"),
    ("training_seeds", E.get_training_seeds, "training_seed_curves"),
])
def test_committed_tiny_results_are_fresh(name, get, compute, monkeypatch, capsys):
    monkeypatch.setattr(E, compute, _refuse)
    df = get("tiny")  # the book's defaults
    assert len(df) > 0 and "using " in capsys.readouterr().out
    _, meta = E.read_results("tiny", name)
    assert meta["key"]["code_version"] and meta["git_commit"]
