"""The engine end to end on the tiny preset with a very small budget, the run cache, the schedule,
and the data-order guarantees the DDP and resume tests rely on."""
import json
import math

import pytest
import torch
import yaml

from saccader.train import cache, engine, runs
from saccader.train.distributed import TrainSampler, eval_shard
from saccader.train.presets import resolve_config

# a few steps on a few images: checks the plumbing, not the accuracy
SMALL = {"max_train_images": 64, "max_eval_images": 24, "batch_size": 16, "steps": 4, "log_every": 2,
         "ckpt_every_steps": 2, "warmup_steps": 1}


def _train(stage, run_dir, **over):
    cfg = resolve_config(stage, "tiny", overrides={**SMALL, **over}, run_dir=str(run_dir))
    return cfg, engine.main(cfg)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def _check_run_dir(run_dir, cfg, metric_keys):
    for name in ("log.jsonl", "checkpoint.pt", "config.yaml", "provenance.json", "metrics.json"):
        assert (run_dir / name).exists(), name
    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == cfg.to_dict()
    prov = json.loads((run_dir / "provenance.json").read_text())
    for key in ("git_commit", "git_dirty", "torch", "device", "argv", "hostname", "time", "seed", "code_version"):
        assert key in prov
    recs = _records(run_dir)
    train = [r for r in recs if r["type"] == "train"]
    assert [r["step"] for r in train] == [2, 4]
    for r in train:
        assert {"loss", "lr", "images_per_s", "epoch"} <= set(r) and math.isfinite(r["loss"])
    final = [r for r in recs if r["type"] == "eval" and r.get("final")]
    assert [r["split"] for r in final] == ["val", "test"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in ("val", "test"):
        assert metrics[split]["count"] == 24
        for key in metric_keys:
            assert 0.0 <= metrics[split][key] <= 1.0
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["finished"] and state["step"] == 4 and state["stage"] == cfg.stage
    return metrics


@pytest.mark.slow
def test_representation_location_policy_end_to_end(tmp_path):
    rep_cfg, _ = _train("representation", tmp_path / "rep")
    _check_run_dir(tmp_path / "rep", rep_cfg, ["acc", "acc_per_location"])

    loc_cfg, _ = _train("location", tmp_path / "loc", init_from=str(tmp_path / "rep"))
    _check_run_dir(tmp_path / "loc", loc_cfg, ["acc", "target_match", "target_match_first", "acc_ordered_logits"])
    train = [r for r in _records(tmp_path / "loc") if r["type"] == "train"]
    assert {"top_match", "top_match_first", "sample_match"} <= set(train[0])
    # the representation stayed frozen: identical BagNet weights (BN statistics included)
    rep = torch.load(tmp_path / "rep" / "checkpoint.pt", weights_only=True)["model"]
    loc = torch.load(tmp_path / "loc" / "checkpoint.pt", weights_only=True)["model"]
    for key, value in rep.items():
        assert torch.equal(loc["representation." + key], value), key

    pol_cfg, _ = _train("policy", tmp_path / "pol", init_from=str(tmp_path / "loc"))
    _check_run_dir(tmp_path / "pol", pol_cfg, ["acc", "acc_random", "acc_image"])
    train = [r for r in _records(tmp_path / "pol") if r["type"] == "train"]
    assert {"reinforce", "xent", "reward"} <= set(train[0])

    cn_cfg, _ = _train("classnet", tmp_path / "cn", init_from=str(tmp_path / "pol"), steps=4)
    _check_run_dir(tmp_path / "cn", cn_cfg, ["acc"])
    # the Saccader stayed frozen inside the ClassNet
    pol = torch.load(tmp_path / "pol" / "checkpoint.pt", weights_only=True)["model"]
    cn = torch.load(tmp_path / "cn" / "checkpoint.pt", weights_only=True)["model"]
    for key, value in pol.items():
        assert torch.equal(cn["saccader." + key], value), key


def test_dram_stage(tmp_path):
    cfg, metrics = _train("dram", tmp_path / "dram", batch_size=8, max_train_images=32)
    _check_run_dir(tmp_path / "dram", cfg, ["acc"])
    train = [r for r in _records(tmp_path / "dram") if r["type"] == "train"]
    assert {"reinforce", "xent", "acc"} <= set(train[0])


def test_fullimage_stage_trains_from_scratch_and_refuses_an_init(tmp_path):
    from saccader.train.config import ConfigError
    from saccader.train.stages import get_stage

    cfg, _ = _train("fullimage", tmp_path / "full")
    metrics = _check_run_dir(tmp_path / "full", cfg, ["acc"])
    assert cfg.model == "resnet_tiny_full" and "acc" in metrics["test"]
    bad = cfg.replace(init_from=str(tmp_path / "full"))
    with pytest.raises(ConfigError, match="trains from scratch"):
        get_stage("fullimage").build(bad)


def test_location_teacher_forcing_and_policy_from_scratch(tmp_path):
    _train("representation", tmp_path / "rep", steps=2)
    _train("location", tmp_path / "loc", init_from=str(tmp_path / "rep"), teacher_forcing=True, steps=2)
    cfg, metrics = _train("policy", tmp_path / "pol", init_from=str(tmp_path / "rep"), init_location="scratch",
                          steps=2)
    assert metrics["step"] == 2 and 0 <= metrics["test"]["acc"] <= 1


def test_a_stage_without_its_previous_stage_is_refused(tmp_path):
    from saccader.train.config import ConfigError

    cfg = resolve_config("location", "tiny", overrides=SMALL, run_dir=str(tmp_path / "loc"))
    with pytest.raises(ConfigError, match="init-from"):
        engine.main(cfg)


def test_cache_reuses_finished_runs_and_retrains_stale_ones(tmp_path, monkeypatch, capsys):
    over = {**SMALL, "steps": 2}
    first = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over)
    assert first.metrics["step"] == 2 and first.checkpoint.exists()
    out = capsys.readouterr().out
    assert "training representation" in out and "no cached run" in out
    mtime = first.checkpoint.stat().st_mtime_ns
    again = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over)
    assert again.run_dir == first.run_dir and again.checkpoint.stat().st_mtime_ns == mtime
    assert "using cached representation" in capsys.readouterr().out
    # another config -> another run directory
    other = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides={**over, "seed": 1})
    assert other.run_dir != first.run_dir
    # other code -> retrained, with the reason said
    monkeypatch.setattr(cache, "code_version", lambda dataset=None: "0123456789abcdef")
    capsys.readouterr()
    stale = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over)
    out = capsys.readouterr().out
    assert "other code" in out and stale.run_dir == first.run_dir
    assert json.loads((stale.run_dir / "provenance.json").read_text())["code_version"] == "0123456789abcdef"


def test_a_second_caller_of_a_run_in_training_waits_and_reuses_it(tmp_path, capsys):
    """Two notebooks side by side that need the same missing run: the second waits for the first
    (instead of training it too, or failing on the engine's lock), then reuses the run."""
    import threading

    over = {**SMALL, "steps": 2}
    run_dir, cfg = cache.planned_run("representation", "tiny", None, over, tmp_path)
    got = []
    with runs._one_trainer(run_dir, verbose=False):  # the first caller, deciding and training
        second = threading.Thread(target=lambda: got.append(
            runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over)))
        second.start()
        engine.main(cfg)
        assert not got, "the second caller went on while the first one held the run"
    second.join(timeout=120)
    out = capsys.readouterr().out
    assert got and got[0].run_dir == run_dir and got[0].metrics["step"] == 2
    assert "using cached representation" in out and "training representation" not in out


def test_lr_schedule_warmup_then_cosine():
    f = [engine.lr_factor(s, total=10, warmup=2, schedule="cosine") for s in range(10)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(1.0) and f[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[2:], f[3:])) and f[-1] < 0.05
    assert engine.lr_factor(5, total=10, warmup=0, schedule="cosine", min_ratio=0.1) == pytest.approx(0.55)
    assert engine.lr_factor(7, total=10, warmup=2, schedule="constant") == 1.0


def test_sharded_batches_union_is_the_single_process_batch():
    data = list(range(103))
    single = TrainSampler(data, batch_size=8, num_replicas=1, rank=0, seed=4)
    shards = [TrainSampler(data, batch_size=4, num_replicas=2, rank=r, seed=4) for r in range(2)]
    for epoch in (0, 3):
        for s in [single, *shards]:
            s.set_epoch(epoch)
        one = list(single)
        parts = [list(s) for s in shards]
        assert single.batches_per_epoch() == shards[0].batches_per_epoch() == 12
        for k in range(12):
            assert sorted(one[8 * k:8 * k + 8]) == sorted(parts[0][4 * k:4 * k + 4] + parts[1][4 * k:4 * k + 4])
    # starting mid-epoch replays the same remaining batches
    single.set_epoch(3, start_batch=5)
    assert list(single) == one[40:96]


def test_eval_shards_cover_every_image_once():
    for n, world in ((10, 3), (7, 2), (5, 1)):
        shards = [eval_shard(n, r, world) for r in range(world)]
        assert sorted(i for s in shards for i in s) == list(range(n))


def test_code_version_of_a_data_set_ignores_the_other_data_sets_readers(tmp_path, monkeypatch):
    """A change to the ImageNet folder reader does not make the clutter runs stale (nor the other
    way round); a change to a shared module does."""
    import shutil

    from saccader.train import cache

    for files in cache.DATASET_FILES.values():
        for rel in files:
            assert (cache.PACKAGE_DIR / rel).is_file(), f"cache.DATASET_FILES names {rel}, which does not exist"
    pkg = tmp_path / "saccader"
    shutil.copytree(cache.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", pkg)
    before = {d: cache.code_version(d) for d in ("clutter", "imagenet", "imagenette", None)}
    assert before["imagenet"] == before["imagenette"] and len({before["clutter"], before["imagenet"], before[None]}) == 3
    with open(pkg / "data" / "imagenet.py", "a") as f:
        f.write("\n# changed\n")
    after = {d: cache.code_version(d) for d in before}
    assert after["clutter"] == before["clutter"] and after["imagenet"] != before["imagenet"]
    with open(pkg / "data" / "parts.py", "a") as f:
        f.write("\n# changed\n")
    assert cache.code_version("clutter") != before["clutter"] and cache.code_version("imagenet") == after["imagenet"]
    with open(pkg / "losses.py", "a") as f:
        f.write("\n# changed\n")
    assert cache.code_version("imagenet") != after["imagenet"]


def test_train_runs_trains_prerequisites_first_side_by_side_with_the_weights_of_one_process(tmp_path):
    """``train_runs`` (the book's and ``evaluate``'s trainer): runs that do not wait for each other
    train in two processes at once, a run only after its prerequisite, and each run's weights are
    those ``get_trained`` gives in this process; a second call finds every run trained."""
    over = {**SMALL, "steps": 2}
    wanted = [("location", {}, over), ("fullimage", {}, over)]
    rows = runs.train_runs("tiny", wanted, jobs=2, runs_root=tmp_path / "side_by_side")
    stages = [r["stage"] for r in rows]
    assert sorted(stages) == ["fullimage", "location", "representation"]
    assert stages.index("representation") < stages.index("location")
    assert runs.train_runs("tiny", wanted, jobs=2, runs_root=tmp_path / "side_by_side") == []
    for stage, overrides, chain in wanted + [("representation", {}, over)]:
        alone = runs.get_trained(stage, "tiny", overrides, tmp_path / "in_process", chain, verbose=False)
        side = runs.get_trained(stage, "tiny", overrides, tmp_path / "side_by_side", chain, verbose=False)
        assert side.run_dir.name == alone.run_dir.name
        assert side.metrics["model_sha256"] == alone.metrics["model_sha256"], stage


def test_parallel_jobs_share_the_cores_by_the_runs_thread_count(monkeypatch):
    monkeypatch.setattr(runs, "usable_cores", lambda: 4)
    tiny = resolve_config("representation", "tiny")
    assert tiny.cpu_threads == 1 and runs.parallel_jobs([tiny]) == 4
    assert runs.parallel_jobs([tiny, tiny.replace(cpu_threads=2)]) == 2
    assert runs.parallel_jobs([tiny.replace(cpu_threads=0)]) == 1  # 0: each run takes every core
    assert runs.parallel_jobs([tiny.replace(cpu_threads=8)]) == 1


def test_train_together_trains_its_group_at_the_first_missing_run_only(tmp_path, monkeypatch):
    """``evaluate`` wraps each table in ``train_together``: a table reused from its file asks for no
    run and trains nothing; one that is computed trains all its missing runs at its first request."""
    over = {**SMALL, "steps": 2}
    group = [("representation", {}, over), ("fullimage", {}, over)]
    calls = []
    real = runs.train_runs
    monkeypatch.setattr(runs, "train_runs", lambda *a, **k: calls.append(a) or real(*a, **k, jobs=1))
    with runs.train_together("tiny", group):
        pass  # nothing asked for
    assert calls == [] and not any(tmp_path.iterdir())
    with runs.train_together("tiny", group):
        first = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over, verbose=False)
        runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over, verbose=False)
    assert len(calls) == 1 and first.metrics["step"] == 2
    full, _ = cache.planned_run("fullimage", "tiny", {}, over, tmp_path)
    assert (full / "metrics.json").exists()  # trained with the group, before anyone asked for it
    assert runs._TOGETHER == []


def test_train_together_also_retrains_runs_of_other_code_as_a_group(tmp_path, monkeypatch):
    """After a code change every finished run is stale (its folder and metrics.json remain): the
    group is still trained side by side, not one run at a time."""
    over = {**SMALL, "steps": 2}
    group = [("representation", {}, over), ("fullimage", {}, over)]
    real = runs.train_runs
    real("tiny", group, jobs=1, runs_root=tmp_path)
    monkeypatch.setattr(cache, "code_version", lambda dataset=None: "0123456789abcdef")
    calls = []
    monkeypatch.setattr(runs, "train_runs", lambda *a, **k: calls.append(a) or real(*a, **k, jobs=1))
    with runs.train_together("tiny", group):
        rep = runs.get_trained("representation", "tiny", runs_root=tmp_path, chain_overrides=over, verbose=False)
    assert len(calls) == 1
    full, _ = cache.planned_run("fullimage", "tiny", {}, over, tmp_path)
    for run_dir in (rep.run_dir, full):
        assert json.loads((run_dir / "provenance.json").read_text())["code_version"] == "0123456789abcdef"
