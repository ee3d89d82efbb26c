"""A run killed with SIGKILL after its first checkpoint and started again with the same command
ends with bit-identical weights to a run that was never interrupted (CPU)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from saccader.train import engine
from saccader.train.presets import resolve_config

PRE = {"max_train_images": 64, "max_eval_images": 16, "batch_size": 16, "steps": 2, "warmup_steps": 1}
# the policy stage: location sampling, image flips and BN statistics all depend on the RNG states
POLICY_SET = ["max_train_images=96", "max_eval_images=16", "batch_size=16", "steps=36", "ckpt_every_steps=3",
              "log_every=3", "warmup_steps=2", "epochs=1"]


def _cmd(run_dir, init_from):
    return [sys.executable, "-m", "saccader.train.cli", "train", "policy", "--preset", "tiny", "--run-dir",
            str(run_dir), "--init-from", str(init_from), "--set", *POLICY_SET]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _train_records(run_dir):
    recs = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r["reward"]) for r in recs if r["type"] == "train"]


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    # previous stages, tiny and in-process
    for stage, init in (("representation", None), ("location", tmp_path / "rep")):
        cfg = resolve_config(stage, "tiny", overrides=PRE, run_dir=str(tmp_path / stage[:3]),
                             init_from=str(init) if init else None)
        engine.main(cfg)

    ref_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_cmd(ref_dir, tmp_path / "loc"), check=True, env=_env(), cwd=tmp_path,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    log = open(tmp_path / "killed.out", "w")
    proc = subprocess.Popen(_cmd(killed_dir, tmp_path / "loc"), env=_env(), cwd=tmp_path, stdout=log, stderr=log)
    deadline = time.time() + 120
    while not (killed_dir / "checkpoint.pt").exists():
        assert proc.poll() is None, "the run ended before its first checkpoint: " + (tmp_path / "killed.out").read_text()
        assert time.time() < deadline, "no checkpoint after 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_dir / "metrics.json").exists(), "killed too late: the run had already finished"
    step_at_kill = torch.load(killed_dir / "checkpoint.pt", weights_only=True)["step"]
    assert 3 <= step_at_kill < 36

    subprocess.run(_cmd(killed_dir, tmp_path / "loc"), check=True, env=_env(), cwd=tmp_path,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref = torch.load(ref_dir / "checkpoint.pt", weights_only=True)
    res = torch.load(killed_dir / "checkpoint.pt", weights_only=True)
    assert ref["finished"] and res["finished"] and ref["step"] == res["step"] == 36
    assert ref["model"].keys() == res["model"].keys()
    for key, value in ref["model"].items():
        assert torch.equal(value, res["model"][key]), key
    for a, b in zip(ref["optimizer"]["state"].values(), res["optimizer"]["state"].values()):
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    # the log was cut back to the checkpoint and replayed: same losses, step by step
    assert _train_records(killed_dir) == _train_records(ref_dir)
    resumes = [json.loads(line) for line in (killed_dir / "log.jsonl").read_text().splitlines()
               if '"resume"' in line]
    assert len(resumes) == 1 and resumes[0]["step"] == step_at_kill
    assert len(json.loads((killed_dir / "provenance.json").read_text())["resumed"]) == 1
