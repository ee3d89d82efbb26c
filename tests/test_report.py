"""saccader.report.runs on a small synthetic training log (no training), and saccader.report.summary's tables."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from saccader.report import runs, summary  # noqa: E402


def _write_log(path, resumed: bool = False):
    lines = [{"time": 100.0, "type": "start", "stage": "policy", "step": 0, "total_steps": 40}]
    t = 100.0
    for step in range(10, 41, 10):
        t += 2.0
        lines.append({"time": t, "type": "train", "stage": "policy", "step": step, "epoch": (step - 1) // 20,
                      "loss": 1.0 / step, "xent": 1.0 / step, "reinforce": -0.01, "l2": 1e-6, "reward": step / 50,
                      "lr": 1e-3 * step / 40, "images_per_s": 100.0 + step})
        if step == 20:
            lines.append({"time": t, "type": "eval", "split": "val", "step": 20, "epoch": 1, "acc": 0.5,
                          "acc_random": 0.3, "count": 10})
            if resumed:  # a resume re-logs step 20
                lines.append({"time": t, "type": "resume", "step": 20, "epoch": 1})
                lines.append(dict(lines[-3], time=t + 1))
    for split, acc in (("val", 0.7), ("test", 0.65)):
        lines.append({"time": t + 3, "type": "eval", "split": split, "step": 40, "epoch": 2, "final": True,
                      "acc": acc, "acc_random": 0.35, "count": 10})
    lines.append({"time": t + 4, "type": "end", "step": 40, "train_seconds": 8.0})
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
        f.write('{"time": 1')  # a line cut short by a kill is skipped
    return path


def test_read_log_rows_and_splits(tmp_path):
    _write_log(tmp_path / "log.jsonl", resumed=True)
    log = runs.read_log(tmp_path)  # a run directory
    assert set(log["type"]) == {"start", "train", "eval", "resume", "end"}
    assert log["elapsed_s"].iloc[0] == 0
    tr = runs.train_rows(log)
    assert tr["step"].tolist() == [10, 20, 30, 40]  # the re-logged step 20 counted once
    assert "split" not in tr.columns
    assert runs.eval_rows(log, "val", final=False)["step"].tolist() == [20]
    assert runs.eval_rows(log, final=True)["split"].tolist() == ["val", "test"]
    s = runs.log_summary(log)
    assert s["steps"] == 40 and s["epochs"] == 2 and s["resumed"] == 1 and s["train_seconds"] == 8.0
    assert "reward" in runs.quantities(tr) and "step" not in runs.quantities(tr)


def test_read_log_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="get_trained"):
        runs.read_log(tmp_path)


def test_plot_learning_curves(tmp_path):
    log = runs.read_log(_write_log(tmp_path / "log.jsonl"))
    fig = runs.plot_learning_curves(log, title="synthetic", eval_metrics=["acc", "acc_random"])
    titles = [ax.get_title() for ax in fig.axes]
    assert any("Loss" in t for t in titles) and any("Learning rate" in t for t in titles)
    metric_ax = fig.axes[1]
    labels = [line.get_label() for line in metric_ax.get_lines()]
    assert "reward (train)" in labels and "acc (val)" in labels and "acc_random (val)" in labels
    plt.close(fig)


def test_plot_policy_runs_draws_each_run_in_its_colour(tmp_path):
    log = runs.read_log(_write_log(tmp_path / "log.jsonl"))
    fig = runs.plot_policy_runs({"pretrained": log, "scratch": log}, eval_glimpses=6)
    reward, val = fig.axes
    assert [line.get_label() for line in reward.get_lines()] == ["pretrained", "scratch"]
    assert [line.get_label() for line in val.get_lines()] == ["pretrained: learned", "pretrained: random",
                                                              "scratch: learned", "scratch: random"]
    assert "6 glimpses" in val.get_title()
    plt.close(fig)


def test_plot_glimpse_accuracy_one_line_per_model_and_policy():
    import pandas as pd

    curves = pd.DataFrame([{"policy": p, "glimpses": t, "accuracy": 0.1 * t, "images": 10, "model": m}
                           for m, policies in (("a", ("learned", "random")), ("b", ("learned", "sobel_mean")))
                           for p in policies for t in (1, 2, 3)])
    fig = runs.plot_glimpse_accuracy(curves, trained_glimpses=2)
    labels = [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labels == ["a: learned", "a: random", "b: learned", "b: sobel_mean"]
    assert "10 test images" in fig.axes[0].get_title()
    plt.close(fig)


def test_stage_behaviour_figures():
    import numpy as np
    import pandas as pd

    acc = {"full_image": 0.8, "per_location": 0.3, "best_cell": 0.5, "map": np.full((8, 8), 0.3), "images": 10}
    fig = runs.plot_per_location_accuracy(acc, num_classes=10)
    assert len(fig.axes[1].texts) == 64 and "10 images" in fig.axes[0].get_title()
    plt.close(fig)
    match = pd.DataFrame({"step": [1, 2, 3], "target_match": [0.5, 0.4, 0.3], "in_target_set": [0.9, 0.8, 0.7],
                          "images": 10})
    curves = pd.DataFrame([{"policy": p, "glimpses": t, "accuracy": 0.2 * t, "images": 10}
                           for p in ("learned", "random") for t in (1, 2, 3)])
    fig = runs.plot_location_behaviour(match, curves, cells=64, full_image_accuracy=0.8)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["exactly the t-th target",
                                                                            "among the 3 targets"]
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["learned", "random", "BagNet, full image"]
    plt.close(fig)
    both = pd.DataFrame({"glimpses": [1, 2], "Saccader (BagNet logits)": [0.5, 0.6], "Saccader-ClassNet": [0.6, 0.7]})
    fig = runs.plot_classnet_against_saccader(both.set_index("glimpses"), 0.8, images=10)
    assert [line.get_label() for line in fig.axes[0].get_lines()][:2] == ["Saccader (BagNet logits)",
                                                                           "Saccader-ClassNet"]
    plt.close(fig)


def test_metrics_and_scale_tables():
    metrics = {"stage": "policy", "train_seconds": 8.0, "val": {"acc": 0.7, "count": 10},
               "test": {"acc": 0.65, "count": 10}}
    df = runs.metrics_table(metrics)
    assert list(df.columns) == ["val", "test"] and df.index[-1] == "count"
    assert df.loc["acc", "test"] == 0.65


def test_config_table_reasons_and_overrides():
    from saccader.train.presets import resolve_config

    cfg = resolve_config("policy", "tiny", overrides={"seed": 3})
    df = runs.config_table(cfg)
    assert df.loc["lr", "from"] == "preset tiny: policy" and "BagNet" in df.loc["lr", "reason"]
    assert df.loc["optimizer", "from"] == "preset tiny: common" and df.loc["optimizer", "reason"]
    assert df.loc["seed", "from"] == "override"
    assert df.loc["momentum", "from"] == "default"
    assert "seed" in runs.config_table(cfg, only_preset=True).index
    line = runs.scale_line(cfg, {"test": {"count": 500}, "train_seconds": 12})
    assert "2048 training images" in line and "500 test images" in line


def test_layer_table_bagnet77():
    df = summary.layer_table()
    assert df.loc["group3", "output"] == "19x19" and df.loc["stem", "output"] == "222x222"
    assert df.loc["logits2d", "receptive_field"] == 77 and df.loc["logits2d", "cumulative_stride"] == 8
    assert df.loc["group3", "channels"] == 2048 and df.loc["lowD", "channels"] == 512
    blocks = summary.layer_table(per_block=True)
    assert blocks["receptive_field"].is_monotonic_increasing and len(blocks) == 1 + 16 + 2


def test_offset_table_misalignment():
    from saccader.geometry import GlimpseGeometry

    off = summary.offset_table(GlimpseGeometry())
    assert off["misalignment_px"].min() == 0 and off["misalignment_px"].max() == 3


def test_gradient_support_tiny():
    from saccader.models import create_model

    net = summary.randomize_batchnorm(create_model("bagnet33_tiny"))
    r = summary.gradient_support(net, (2, 5))
    assert r["support"] == r["expected"] == (16, 40, 49, 73)
    assert r["inside_fraction"] == pytest.approx(1.0)


def test_architecture_figures():
    from saccader.geometry import GlimpseGeometry
    from saccader.models import create_model, get_model_cfg
    from saccader.models.bagnet import BagNetConfig

    tiny = create_model("bagnet33_tiny")
    fig = summary.plot_receptive_field_growth([("77", BagNetConfig(), 224), ("tiny", tiny.config, 96)])
    assert [t.get_text() for t in fig.axes[0].texts] == ["77 px", "33 px"]
    plt.close(fig)
    geo = GlimpseGeometry.from_model_cfg(get_model_cfg("saccader33_tiny"))
    fig = summary.plot_geometries([(geo, [(0, 0)], "a", "A"), (geo, [(7, 7)], "b", "B")])
    assert len(fig.axes) == 3 and [line.get_label() for line in fig.axes[2].get_lines()] == ["A", "B"]
    plt.close(fig)
    net = summary.randomize_batchnorm(tiny)
    cells = [(0, 0), (7, 7)]
    fig = summary.plot_gradient_supports([summary.gradient_support(net, c) for c in cells], cells, "bagnet33_tiny")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["bagnet33_tiny: cell (0, 0)", "bagnet33_tiny: cell (7, 7)"]
    plt.close(fig)


def test_dataset_figures():
    from saccader.data import build_dataset
    from saccader.data.synthetic import describe
    from saccader.report import dataset

    ds = build_dataset("clutter", "val", num_images=16, normalize=False, use_cache=False)
    fig = dataset.samples_figure(ds.images[:8], [str(int(y)) for y in ds.labels[:8]], ds.object_boxes[:8],
                                 ds.cfg.glimpse_size, ncols=4)
    assert sum(len(ax.patches) for ax in fig.axes) == 16  # each image: its object and the dashed glimpse
    plt.close(fig)
    fig = dataset.balance_figure(describe(ds), ds.object_boxes, ds.cfg.image_size, ds.split)
    assert "16 images" in fig.axes[0].get_title() and fig.axes[1].get_title() == "Object centres"
    plt.close(fig)


def test_pages_ask_for_the_settings_of_the_committed_results():
    """A page left at its defaults asks for the settings the preset's committed table was computed
    with (so it shows those numbers instead of computing others); given values win."""
    from saccader.report.figures import committed_settings

    defaults = {"seeds": [0, 1, 2], "max_occluded": 12}
    assert committed_settings("imagenette", "occlusion", defaults, seeds=None, max_images=None, max_occluded=None) \
        == {"seeds": [0], "max_images": 1000, "max_occluded": 6}
    assert committed_settings("imagenette", "occlusion", defaults, seeds=[3], max_images=0, max_occluded=2) \
        == {"seeds": [3], "max_images": None, "max_occluded": 2}
    # nothing committed under that name: the page's defaults
    assert committed_settings("imagenette", "no_such_table", defaults, seeds=None, max_images=None) \
        == {"seeds": [0, 1, 2], "max_images": None}


def test_supervision_table_counts_the_labelled_outputs_of_each_run(tmp_path):
    from saccader.report.runs import supervision_table
    from saccader.train.runs import get_trained

    small = {"max_train_images": 32, "max_eval_images": 16, "batch_size": 16, "steps": 2, "log_every": 1,
             "warmup_steps": 1}
    rep = get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=small, verbose=False)
    dram = get_trained("dram", "tiny", overrides={"dram_xent": "per_step", "num_glimpses": 3}, runs_root=tmp_path,
                       chain_overrides=small, verbose=False)
    table = supervision_table(dram, rep, grid_size=8)
    d, b = table.iloc[0], table.iloc[1]
    assert (d["training steps"], d["images seen"], d["losses per image"]) == (2, 32, 3)  # per-step loss: one per glimpse
    assert (b["losses per image"], b["labelled outputs in all"]) == (64, 2 * 16 * 64)
    assert 0.0 <= d["training accuracy, last epoch"] <= 1.0


def test_heldout_metrics_is_test_or_else_val():
    from saccader.report.runs import heldout_metrics

    assert heldout_metrics({"val": {"acc": 0.5}, "test": {"acc": 0.6}}) == {"acc": 0.6, "split": "test"}
    assert heldout_metrics({"val": {"acc": 0.5}}) == {"acc": 0.5, "split": "val"}  # Imagenette, ImageNet
    with pytest.raises(KeyError, match="neither 'test' nor 'val'"):
        heldout_metrics({"step": 3})


def test_dram_sensor_table_reads_the_model_and_config():
    from saccader.models.dram import DRAM
    from saccader.report.runs import dram_sensor_table
    from saccader.train.config import TrainConfig

    net = DRAM(num_classes=10, image_size=96, glimpse_size=33, blocks=(1, 1, 1, 1), width=0.125, rnn_units=(8, 8))
    table = dram_sensor_table(net, TrainConfig(stage="dram", dram_xent="per_step", lr=3e-3)).set_index("quantity")
    assert table.loc["field of view, resolution 1", "value"] == "33 px (0.34 of the side)"
    assert table.loc["field of view, resolution 3", "value"] == "96 px (1.00 of the side)"
    assert "64 px" in table.loc["field of view, resolution 2", "value"]
    assert "+-0.656 (+-31.5 px" in table.loc["glimpse centres", "value"]  # 1 - 33/96, half of 96 px per unit
    assert table.loc["exploration in training", "value"].startswith("std 0.1 (4.8 px, 0.15 of a glimpse side)")
    assert "of each step" in table.loc["reward and baseline", "value"] and "lr 0.003" in table.loc["optimizer", "value"]
    assert table.loc["what the classifier sees after the context step", "value"] == "the high-resolution field only"
