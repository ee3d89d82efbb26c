"""The results committed in data/results/tiny were produced by the code as it is: their cache keys
(training code, evaluation code, run configurations, settings) match, so a clone whose runs have
the same weights (or that has not trained them) reuses them instead of recomputing. A change to the
training or evaluation code must come with new results (`python -m saccader evaluate --preset tiny
--what curves occlusion training_seeds dram_study`, from a clean tree). Each committed file also records the
checksum of the weights of every run it was computed from, and the commit of a clean tree."""
import pytest

from saccader.evaluation import dram_study, occlusion, results, seeds


def _refuse(*args, **kwargs):
    raise AssertionError("the committed results are stale: rerun `python -m saccader evaluate --preset tiny "
                         "--what curves occlusion training_seeds dram_study` and commit data/results/tiny")


@pytest.mark.parametrize("name, get, module, compute", [
    ("curves", results.get_results, results, "evaluate_all"),
    ("occlusion", occlusion.get_occlusion, occlusion, "occlusion_all"),
    ("training_seeds", seeds.get_training_seeds, seeds, "training_seed_curves"),
    ("dram_study", dram_study.get_dram_study, dram_study, "dram_study_curves"),
])
def test_committed_tiny_results_are_fresh(name, get, module, compute, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(module, compute, _refuse)
    monkeypatch.setattr(results, "run_weights", lambda run_dir: None)  # as on a clone that has trained nothing yet
    df = get("tiny", local_root=tmp_path)  # the book's defaults
    assert len(df) > 0 and "using " in capsys.readouterr().out and df.attrs["source"] == "committed"
    _, meta = results.read_results("tiny", name)
    assert meta["key"]["code_version"] and meta["git_commit"]
    assert meta["git_dirty"] is False, "commit results only from a clean tree"
    weights = meta["key"]["weights"]
    assert set(weights) == set(meta["key"]["runs"]) and all(isinstance(w, str) and len(w) >= 16
                                                            for w in weights.values())


# the settings the committed Imagenette results were computed with (README, Results log)
IMAGENETTE = {"curves": (results.get_results, results, "evaluate_all", {}),
              "occlusion": (occlusion.get_occlusion, occlusion, "occlusion_all",
                            {"seeds": (0,), "max_images": 1000, "max_occluded": 6})}


@pytest.mark.parametrize("name", list(IMAGENETTE))
def test_committed_imagenette_results_are_fresh(name, monkeypatch, capsys, tmp_path):
    """Computed by this code from the runs of this preset; the folder is not read (it does not enter the keys)."""
    get, module, compute, settings = IMAGENETTE[name]
    monkeypatch.setattr(module, compute, _refuse)
    monkeypatch.setattr(results, "run_weights", lambda run_dir: None)
    df = get("imagenette", data_dir="/not/read", local_root=tmp_path, **settings)
    assert df.attrs["source"] == "committed" and "using " in capsys.readouterr().out
    _, meta = results.read_results("imagenette", name)
    assert meta["git_dirty"] is False and int(df.images.max()) == (settings.get("max_images") or 3925)
