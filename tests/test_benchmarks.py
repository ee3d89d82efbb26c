"""The speed-benchmark scripts of ``benchmarks/`` run end to end on the CPU with the tiny models
(1 repeat) and write their CSV with every column and positive numbers, plus the provenance JSON."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from saccader.report import benchmarks


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _check(out, name, columns, positive):
    df = pd.read_csv(out / f"{name}.csv")
    assert list(df.columns) == columns
    assert len(df) and (df["status"] == "ok").all(), df[["status"]]
    assert (df["device_kind"] == "cpu").all()
    for col in positive:
        assert (df[col] > 0).all(), f"{name}.{col}: {df[col].tolist()}"
    info = json.loads((out / f"{name}.json").read_text())
    assert info["device_kind"] == "cpu" and info["device"].startswith("cpu") and "torch" in info
    return df


def test_train_throughput(tmp_path, capsys):
    mod = benchmarks.load_script("train_throughput")
    mod.main(["--scale", "tiny", "--device", "cpu", "--batches", "2", "--warmup", "0", "--repeats", "1",
              "--threads", "1", "--out-dir", str(tmp_path)])
    assert "NOT a performance result" in capsys.readouterr().out
    df = _check(tmp_path, "train_throughput", mod.COLUMNS,
                ["median_s", "images_per_s", "gflops_per_image", "tflops_per_s", "flops_ratio_to_resnet50"])
    assert set(df["stage"]) == {"resnet50_reference", "representation", "location", "policy", "classnet", "dram",
                                "fullimage"}
    assert df.loc[df["stage"] == "resnet50_reference", "flops_ratio_to_resnet50"].item() == pytest.approx(1.0)
    assert df["mfu"].isna().all() and df["peak_mem_gib"].isna().all()  # GPU-only columns


def test_eval_throughput(tmp_path):
    mod = benchmarks.load_script("eval_throughput")
    mod.main(["--scale", "tiny", "--device", "cpu", "--methods", "saccader", "dram", "--policies", "learned",
              "center", "--images", "8", "--batch", "8", "--warmup", "0", "--repeats", "1", "--threads", "1",
              "--out-dir", str(tmp_path)])
    df = _check(tmp_path, "eval_throughput", mod.COLUMNS, ["median_s", "images_per_s"])
    assert df["policy"].tolist() == ["learned", "center", "learned", "all"]
    sweep = df[df["method"] == "sweep"].iloc[0]
    assert sweep["median_s"] == pytest.approx(df["median_s"].iloc[:3].sum())


def test_data_loading(tmp_path):
    mod = benchmarks.load_script("data_loading")
    train = tmp_path / "train.csv"
    pd.DataFrame([{"stage": "representation", "images_per_s": 10.0, "status": "ok"},
                  {"stage": "resnet50_reference", "images_per_s": 99.0, "status": "ok"}]).to_csv(train, index=False)
    mod.main(["--device", "cpu", "--images", "8", "--batch", "4", "--workers", "0", "--gpu-workers", "0",
              "--warmup", "1", "--batches", "1", "--repeats", "1", "--threads", "1", "--jpeg-dir", str(tmp_path / "jpegs"),
              "--train-csv", str(train), "--out-dir", str(tmp_path)])
    df = _check(tmp_path, "data_loading", mod.COLUMNS, ["images_per_s", "mean_jpeg_kb", "ratio_to_train"])
    assert df["pipeline"].tolist() == ["cpu_pil", "cpu_decode"]
    assert (df["train_stage"] == "representation").all()
    assert len(list((tmp_path / "jpegs" / "train").rglob("*.JPEG"))) == 8


def test_cpu_results_never_meet_or_miss_a_target(tmp_path):
    res = benchmarks.Results("cpu", False, {"train_throughput": pd.DataFrame(
        [{"stage": "representation", "batch": 2, "compile": False, "images_per_s": 5.0, "tflops_per_s": 1.0,
          "mfu": 0.9, "status": "ok"}])})
    assert benchmarks.targets(res)["met"].isna().all()
    assert "No GPU results" in benchmarks.statement(res)


def test_thread_scaling_times_each_stage_with_one_thread_and_with_more(capsys):
    from saccader.bench.train import thread_scaling

    before = torch.get_num_threads()
    rows = thread_scaling("tiny", stages=["fullimage", "dram"], threads=2, repeats=1)
    assert [r["stage"] for r in rows] == ["fullimage", "dram"] and torch.get_num_threads() == before
    for r in rows:
        assert r["threads"] == 2 and r["ms_1"] > 0 and r["ms_n"] > 0
        assert r["speedup"] == pytest.approx(r["ms_1"] / r["ms_n"]) and r["side_by_side"] == pytest.approx(2 / r["speedup"])
    # the preset's own step: the tiny full-image CNN trains under bf16 autocast, DRAM in fp32
    assert [r["amp"] for r in rows] == ["bf16", "none"]
    assert "side by side" in capsys.readouterr().out
