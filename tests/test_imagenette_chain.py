"""The imagenette preset end to end on a few dozen photographs: every stage of the chain trains two
steps from the previous one, and every method of the evaluation gives its curve. On the real
photographs of ``../shared/data/imagenette`` where that folder exists, else on a generated
ImageNet-layout tree of the 10 Imagenette wnids."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from imagenet_tree import write_imagenet_tree
from saccader import paths
from saccader.data.imagenette import IMAGENETTE_WNIDS
from saccader.evaluation.methods import METHODS, evaluate_method
from saccader.report.runs import read_log
from saccader.train import checkpoint
from saccader.train.runs import get_trained, train_measured
from saccader.train.stages import get_stage

SHARED = Path(os.environ.get("SACCADER_IMAGENETTE", paths.REPO_ROOT.parent / "shared" / "data" / "imagenette"))
# a step or two per stage on 40 training and 30 validation images (stratified: 4 and 3 per class)
SMOKE = {"max_train_images": 40, "max_eval_images": 30, "steps": 2, "warmup_steps": 1, "batch_size": 8,
         "eval_every": 0, "ckpt_every_steps": 0, "log_every": 1}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    if (SHARED / "val").is_dir():
        return str(SHARED)
    root = tmp_path_factory.mktemp("imagenette")
    return str(write_imagenet_tree(root, wnids=IMAGENETTE_WNIDS, images_per_class=4, sizes=((120, 100), (90, 110))))


def test_every_method_of_the_imagenette_preset_trains_and_evaluates(data_dir, tmp_path):
    chain = {"data_dir": data_dir, **SMOKE}
    runs = {name: (m.stage, m.overrides) for name, m in METHODS.items()}
    rows = train_measured("imagenette", runs, tmp_path / "out" / "training", chain, runs_root=tmp_path)
    assert [r["run"] for r in rows] == list(METHODS) and all(r["steps"] == 2 for r in rows)
    assert all(r["peak_rss_mb"] > 50 and r["wall_s"] > 0 for r in rows)
    assert rows[0]["trained_here"] and not rows[-2]["trained_here"]  # bagnet_full_image: the representation run
    assert (tmp_path / "out" / "training.csv").read_text().startswith("run,stage,run_dir,")
    logs = read_log(tmp_path / "out" / "training_logs.jsonl")
    assert set(logs.run) == set(METHODS) and {"start", "eval", "end"} <= set(logs.type)  # steps 1, 2: no train line
    for name, method in METHODS.items():
        run = get_trained(method.stage, "imagenette", overrides=method.overrides, runs_root=tmp_path,
                          chain_overrides=chain, verbose=False)
        assert run.config.dataset == "imagenette" and run.config.max_eval_images == 30
        net = get_stage(method.stage).build(run.config, load=False)
        net.load_state_dict(checkpoint.load(run.checkpoint)["model"])
        df = evaluate_method(name, net.eval(), run.config, seeds=(0,), max_images=12, max_glimpses=2,
                             batch_size=6, policies=method.policies)
        assert set(df.policy) == set(method.policies), name
        assert (df.images == 12).all() and df.top1.between(0, 100).all() and (df.top5 >= df.top1).all(), name
        if name not in ("bagnet_full_image", "cnn_full_image"):
            assert sorted(df.glimpses.unique()) == [1, 2], name
    trained = sorted(p.name.split("-")[0] for p in (tmp_path / "imagenette").iterdir() if p.is_dir())
    assert trained == ["classnet", "dram", "fullimage", "location", "policy", "policy", "representation"]


def test_chain_command_needs_the_folder_and_knows_the_runs():
    import subprocess
    import sys

    from saccader.train.runs import CHAIN_RUNS

    done = subprocess.run([sys.executable, "-m", "saccader", "chain", "--preset", "imagenette"], capture_output=True,
                          text=True, cwd=paths.REPO_ROOT)
    assert done.returncode == 2 and "pass --data-dir" in done.stderr
    # every run the evaluation reads is in the chain, and nothing else
    assert sorted(CHAIN_RUNS.values(), key=str) == sorted(
        {str(v): v for v in [(m.stage, m.overrides) for m in METHODS.values()] + [("location", {})]}.values(), key=str)


def test_a_stage_given_the_data_folder_passes_it_to_its_prerequisites(data_dir, tmp_path):
    """The chapters ask for their stage with ``overrides={"data_dir": ...}``: the runs it starts
    from read the same folder (it was refused: 'the imagenette data set needs its folder')."""
    run = get_trained("location", "imagenette", overrides={"data_dir": data_dir}, runs_root=tmp_path,
                      chain_overrides=SMOKE, verbose=False)
    assert run.config.data_dir == data_dir and run.metrics["step"] == 2
    rep = get_trained("representation", "imagenette", runs_root=tmp_path, chain_overrides={**SMOKE, "data_dir": data_dir},
                      verbose=False)
    assert run.config.init_from == str(rep.run_dir)
