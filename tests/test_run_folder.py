"""Run folders (issue 13, items 2, 4 and 6): damaged weights are refused (resume, --init-from),
torn or lost files are rebuilt or repaired, a failed start leaves nothing behind, a restart
after a kill before the first checkpoint does not repeat log lines, the spelling of --init-from
does not change the config hash, and one training process at a time holds a run folder."""
import json
import os
import subprocess
import sys

import pytest
import torch

from saccader.train import cache, cli, engine, runs
from saccader.train import checkpoint as ckpt
from saccader.train.config import config_hash
from saccader.train.presets import resolve_config

# two steps of four images (one checkpoint after step 1): checks the files, not the training
SMALL = {"max_train_images": 16, "max_eval_images": 4, "batch_size": 4, "steps": 2, "log_every": 1,
         "ckpt_every_steps": 1, "warmup_steps": 1}
SET = [f"{k}={v}" for k, v in SMALL.items()]


def _cfg(stage, run_dir, **over):
    init = over.pop("init_from", None)
    return resolve_config(stage, "tiny", overrides={**SMALL, **over}, run_dir=str(run_dir), init_from=init)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


class _Killed(Exception):
    """Stands for a SIGKILL: the run stops where it is, nothing is cleaned up."""


def _kill_at_save(monkeypatch, n):
    """The n-th ``Trainer.save`` of the next run raises ``_Killed`` instead of writing."""
    real, calls = engine.Trainer.save, []

    def save(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise _Killed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(engine.Trainer, "save", save)


def _killed_after_first_checkpoint(monkeypatch, run_dir):
    """A representation run killed after its checkpoint at step 1 (of 2)."""
    cfg = _cfg("representation", run_dir)
    with monkeypatch.context() as m:
        _kill_at_save(m, 2)
        with pytest.raises(_Killed):
            engine.main(cfg)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1 and not state["finished"]
    return cfg


def _flip_one_bit(path):
    """One bit of one weight flipped, the rest of the checkpoint (its model_sha256 too) as written."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    name = next(k for k, v in state["model"].items() if v.dtype == torch.float32 and v.numel())
    before = state["model"][name].clone()
    bits = state["model"][name].view(torch.int32)  # any memory format (channels_last weights too)
    first = (0,) * bits.dim()
    bits[first] = bits[first] ^ 1
    assert not torch.equal(before, state["model"][name]) and "model_sha256" in state
    torch.save(state, path)


def test_a_flipped_bit_is_refused_by_resume_and_by_init_from(tmp_path, monkeypatch, capsys):
    rep = tmp_path / "rep"
    cfg = _killed_after_first_checkpoint(monkeypatch, rep)
    path = rep / "checkpoint.pt"
    _flip_one_bit(path)
    # resume
    with pytest.raises(ckpt.CheckpointError) as err:
        engine.main(cfg)
    msg = str(err.value)
    assert str(path) in msg and "damaged" in msg and "Restore" in msg and "delete" in msg
    capsys.readouterr()
    assert cli.main(["train", "representation", "--preset", "tiny", "--run-dir", str(rep), "--set", *SET]) == 2
    out = capsys.readouterr().err
    assert str(path) in out and "damaged" in out
    assert torch.load(path, weights_only=True)["step"] == 1  # nothing was trained on from the altered weights
    # --init-from: refused, and the new run's folder is not left behind
    loc = tmp_path / "loc"
    with pytest.raises(ckpt.CheckpointError, match="damaged") as err:
        engine.main(_cfg("location", loc, init_from=str(rep)))
    assert str(path) in str(err.value)
    assert not loc.exists()
    assert cli.main(["train", "location", "--preset", "tiny", "--run-dir", str(loc), "--init-from", str(rep),
                     "--set", *SET]) == 2
    assert "damaged" in capsys.readouterr().err and not loc.exists()
    # and whatever reads the weights for evaluation
    with pytest.raises(ckpt.CheckpointError, match="damaged"):
        ckpt.model_state(rep)


def test_torn_provenance_is_rebuilt_on_resume(tmp_path, monkeypatch):
    run = tmp_path / "rep"
    cfg = _killed_after_first_checkpoint(monkeypatch, run)
    prov = run / "provenance.json"
    text = prov.read_text()
    prov.write_text(text[: len(text) // 2])  # torn
    with pytest.warns(UserWarning, match="rebuilt"):
        metrics = engine.main(cfg)
    info = json.loads(prov.read_text())
    assert "rebuilt" in info and info["code_version"] == cache.code_version("clutter")
    assert [r["step"] for r in info["resumed"]] == [1]
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["finished"] and state["step"] == 2
    # the weights' checksum: in the checkpoint, in the returned metrics and in metrics.json
    assert metrics["model_sha256"] == state["model_sha256"] == ckpt.weights_checksum(state["model"])
    assert json.loads((run / "metrics.json").read_text())["model_sha256"] == state["model_sha256"]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.yaml", "log.jsonl", "metrics.json",
                                                      "provenance.json"]  # no .lock, no .tmp left


def test_get_trained_repairs_a_lost_metrics_json_and_a_torn_provenance(tmp_path, capsys):
    first = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=SMALL)
    mtime = first.checkpoint.stat().st_mtime_ns
    (first.run_dir / "metrics.json").unlink()
    capsys.readouterr()
    again = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=SMALL)
    out = capsys.readouterr().out
    assert "metrics.json was missing" in out and "using cached" in out
    assert again.metrics == first.metrics and json.loads((first.run_dir / "metrics.json").read_text()) == first.metrics
    assert again.checkpoint.stat().st_mtime_ns == mtime  # repaired, not retrained
    # a torn provenance.json: rebuilt from the checkpoint, the run still reused
    prov = first.run_dir / "provenance.json"
    prov.write_text(prov.read_text()[:20])
    third = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=SMALL)
    out = capsys.readouterr().out
    assert "rebuilt" in out and "using cached" in out and third.checkpoint.stat().st_mtime_ns == mtime
    assert json.loads(prov.read_text())["code_version"] == cache.code_version("clutter")
    # the engine (the command line's path) repairs a lost metrics.json of a finished run too
    (first.run_dir / "metrics.json").unlink()
    assert engine.main(first.config) == first.metrics
    assert json.loads((first.run_dir / "metrics.json").read_text()) == first.metrics


def test_a_failed_start_leaves_nothing_behind(tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise RuntimeError("the data set cannot be built")

    monkeypatch.setattr(engine, "load_data", no_data)
    new = tmp_path / "new"
    with pytest.raises(RuntimeError, match="cannot be built"):
        engine.main(_cfg("representation", new))
    assert not new.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="cannot be built"):
        engine.main(_cfg("representation", empty))
    assert list(empty.iterdir()) == []
    # the files of an earlier (killed) attempt stay as they were
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    files = {"config.yaml": "stage: representation\n", "provenance.json": '{"seed": 0}\n',
             "log.jsonl": '{"type": "start", "step": 0}\n'}
    for name, text in files.items():
        (earlier / name).write_text(text)
    with pytest.raises(RuntimeError, match="cannot be built"):
        engine.main(_cfg("representation", earlier))
    assert {p.name: p.read_text() for p in earlier.iterdir()} == files


def test_no_repeated_log_lines_after_a_kill_before_the_first_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "rep"
    cfg = _cfg("representation", run, ckpt_every_steps=0)  # the only checkpoint is the last one
    with monkeypatch.context() as m:
        _kill_at_save(m, 1)
        with pytest.raises(_Killed):
            engine.main(cfg)
    assert not (run / "checkpoint.pt").exists()
    assert [r["step"] for r in _records(run) if r["type"] == "train"] == [1, 2]
    engine.main(cfg)  # starts over: the killed attempt's lines are not kept
    recs = _records(run)
    assert [r["step"] for r in recs if r["type"] == "train"] == [1, 2]
    assert [r["type"] for r in recs].count("start") == 1


def test_the_spelling_of_init_from_does_not_change_the_config_hash(tmp_path, monkeypatch):
    from saccader.train.cache import run_dir_for

    rep = tmp_path / "runs" / "rep"
    rep.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    spellings = ["runs/rep", "runs/rep/", str(rep), str(rep) + "/", "./runs//rep", "link/rep",
                 "runs/rep/checkpoint.pt"]
    base = resolve_config("location", "tiny", run_dir=str(tmp_path / "loc"))
    cfgs = [base.replace(init_from=s) for s in spellings]
    assert len({config_hash(c) for c in cfgs}) == 1
    assert config_hash(cfgs[0]) != config_hash(base.replace(init_from=str(tmp_path / "runs" / "other")))
    # a checkpoint written with one spelling is resumed with another
    state = {"stage": "location", "config": cfgs[0].to_dict(), "config_hash": config_hash(cfgs[0])}
    for c in cfgs:
        ckpt.check_compatible(state, c, "checkpoint.pt")
    # a checkpoint of the older code (hash of the path as written) still resumes with that spelling
    legacy = {**state, "config_hash": config_hash(cfgs[0], canonical_paths=False)}
    ckpt.check_compatible(legacy, cfgs[0], "checkpoint.pt")
    # the run cache's folder names see the previous run by its name only, wherever the cwd is
    names = {run_dir_for(c, "root").name for c in cfgs[:-1]}
    monkeypatch.chdir(rep)
    assert names == {run_dir_for(c, "root").name for c in cfgs[:-1]} and len(names) == 1
    key = base.replace(init_from="rep")
    assert names == {f"location-{config_hash(key, canonical_paths=False)[:10]}"}


def test_a_second_trainer_in_the_same_run_folder_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    lock = ckpt.lock_run_dir(run)
    try:
        with pytest.raises(ckpt.RunDirInUseError) as err:
            engine.main(_cfg("representation", run))
        msg = str(err.value)
        assert "in use by another training process" in msg and f"pid {os.getpid()}" in msg and str(run) in msg
        assert "--run-dir" in msg
        capsys.readouterr()
        assert cli.main(["train", "representation", "--preset", "tiny", "--run-dir", str(run), "--set", *SET]) == 2
        assert "in use by another training process" in capsys.readouterr().err
        assert [p.name for p in run.iterdir()] == [".lock"]  # the folder was not touched
    finally:
        lock.release()
    assert list(run.iterdir()) == []


def test_the_lock_of_a_killed_process_is_free(tmp_path):
    run = tmp_path / "run"
    code = ("import sys, time; from saccader.train.checkpoint import lock_run_dir; lock_run_dir(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ckpt.RunDirInUseError, match=f"pid {proc.pid}"):
            ckpt.lock_run_dir(run)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert (run / ".lock").exists()  # left by the killed process, but no longer locked
    with ckpt.lock_run_dir(run) as lock:
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid() and lock.fd is not None
    assert not (run / ".lock").exists()
