"""Checkpoints and configs: atomic files, weights_only loading, clear errors for corrupted and
foreign checkpoints, unknown presets and keys, a missing --data-dir."""
import random
import warnings

import numpy as np
import pytest
import torch
import yaml

from saccader.train import checkpoint as ckpt
from saccader.train import cli
from saccader.train.config import ConfigError, TrainConfig, apply_overrides, config_hash, parse_set_args
from saccader.train.presets import PRESETS, resolve_config


def _fake_checkpoint(cfg: TrainConfig) -> dict:
    return {"format": ckpt.FORMAT, "stage": cfg.stage, "config": cfg.to_dict(), "config_hash": config_hash(cfg),
            "model": {"w": torch.arange(6.0).view(2, 3)}, "step": 3, "rng": [ckpt.rng_state()], "finished": False}


def test_save_is_atomic_and_loads_weights_only(tmp_path):
    cfg = resolve_config("representation", "tiny")
    path = ckpt.save(_fake_checkpoint(cfg), tmp_path / "run" / "checkpoint.pt")
    assert path.exists() and not path.with_name("checkpoint.pt.tmp").exists()
    state = ckpt.load(path)  # weights_only=True inside
    assert torch.equal(state["model"]["w"], torch.arange(6.0).view(2, 3))
    assert state["config"] == cfg.to_dict() and state["step"] == 3
    ckpt.check_compatible(state, cfg, path)  # same config: accepted


def test_rng_state_round_trip():
    state = ckpt.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(123), np.random.seed(5), torch.manual_seed(9)
    ckpt.set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupted_checkpoint_names_the_file(tmp_path, damage):
    cfg = resolve_config("representation", "tiny")
    path = ckpt.save(_fake_checkpoint(cfg), tmp_path / "checkpoint.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint at all")
    with pytest.raises(ckpt.CheckpointError, match="corrupted or truncated") as err:
        ckpt.load(path)
    assert str(path) in str(err.value)


def test_weights_checksum_is_stable_and_sees_one_bit():
    sd = {"w": torch.arange(6.0).view(2, 3), "n": torch.tensor(7), "h": torch.ones(2, dtype=torch.bfloat16)}
    # a fixed value: the same in every process and every version (results are keyed by it)
    assert ckpt.weights_checksum(sd) == "1b74bca19a82a88ffe2b0e492e1e23097f20423208ef5730920b0aa7e835f1cb"
    assert ckpt.weights_checksum(dict(reversed(list(sd.items())))) == ckpt.weights_checksum(sd)
    conv = {"c": torch.randn(2, 3, 4, 5)}
    same = {"c": conv["c"].contiguous(memory_format=torch.channels_last)}
    assert ckpt.weights_checksum(same) == ckpt.weights_checksum(conv)  # memory format does not count
    assert ckpt.weights_checksum({"c": conv["c"].transpose(0, 1).contiguous().transpose(0, 1)}) == \
        ckpt.weights_checksum(conv)
    flipped = conv["c"].clone()
    flipped.view(-1).view(torch.int32)[7] ^= 1
    assert ckpt.weights_checksum({"c": flipped}) != ckpt.weights_checksum(conv)
    assert ckpt.weights_checksum({"c": conv["c"].double()}) != ckpt.weights_checksum(conv)  # dtype counts
    assert ckpt.weights_checksum({"c": conv["c"].view(3, 2, 4, 5)}) != ckpt.weights_checksum(conv)  # shape too


def test_a_flipped_bit_in_the_weights_is_refused(tmp_path):
    cfg = resolve_config("representation", "tiny")
    path = ckpt.save(_fake_checkpoint(cfg), tmp_path / "run" / "checkpoint.pt")
    state = torch.load(path, weights_only=True)
    assert state["model_sha256"] == ckpt.weights_checksum(state["model"])
    state["model"]["w"].view(-1).view(torch.int32)[2] ^= 1 << 20  # one bit, the recorded checksum kept
    torch.save(state, path)
    for read in (ckpt.load, ckpt.model_state):
        with pytest.raises(ckpt.CheckpointError) as err:
            read(path)
        msg = str(err.value)
        assert str(path) in msg and "damaged" in msg and "Restore" in msg and "delete" in msg
    assert ckpt.load(path, verify=False)["step"] == 3  # readable on purpose, e.g. to inspect it


def test_a_checkpoint_without_checksum_loads_with_one_warning(tmp_path):
    cfg = resolve_config("representation", "tiny")
    path = tmp_path / "checkpoint.pt"
    torch.save(_fake_checkpoint(cfg), path)  # as written before checksums were recorded
    with pytest.warns(UserWarning, match="no weights checksum"):
        state = ckpt.load(path)
    assert torch.equal(state["model"]["w"], torch.arange(6.0).view(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ckpt.load(path)  # warned once per file


def test_corrupted_checkpoint_through_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x00" * 100)
    assert cli.main(["train", "representation", "--preset", "tiny", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "corrupted or truncated" in err and str(run / "checkpoint.pt") in err


def test_foreign_checkpoint_other_config_or_stage_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = resolve_config("representation", "tiny", run_dir=str(run))
    ckpt.save(_fake_checkpoint(cfg), run / "checkpoint.pt")
    other = cfg.replace(lr=cfg.lr * 10)
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.check_compatible(ckpt.load(run / "checkpoint.pt"), other, run / "checkpoint.pt")
    msg = str(err.value)
    assert config_hash(cfg) in msg and config_hash(other) in msg and "--run-dir" in msg and "lr" in msg
    # through the CLI: another stage in the same run dir
    code = cli.main(["train", "location", "--preset", "tiny", "--run-dir", str(run), "--init-from", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "'representation'" in err and "'location'" in err and "--run-dir" in err


def test_non_result_keys_do_not_change_the_hash():
    cfg = resolve_config("policy", "tiny")
    assert config_hash(cfg) == config_hash(cfg.replace(log_every=1, num_workers=4, ckpt_every_steps=7, run_dir="x"))
    assert config_hash(cfg) != config_hash(cfg.replace(seed=1))


def test_missing_data_dir_for_imagenet(capsys):
    with pytest.raises(ConfigError, match="--data-dir"):
        resolve_config("representation", "imagenet")
    assert cli.main(["train", "representation", "--preset", "imagenet", "--run-dir", "unused"]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert resolve_config("representation", "imagenet", data_dir="/data/imagenet").model == "bagnet77_lowd"


def test_unknown_preset_and_unknown_key(capsys):
    assert cli.main(["train", "policy", "--preset", "huge", "--run-dir", "unused"]) == 2
    err = capsys.readouterr().err
    assert "huge" in err and all(name in err for name in PRESETS)
    assert cli.main(["train", "policy", "--preset", "tiny", "--run-dir", "unused", "--set", "learning_rate=1"]) == 2
    err = capsys.readouterr().err
    assert "learning_rate" in err and "lr" in err and "batch_size" in err  # lists the valid keys
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve_config("policy", "tiny", overrides={"batch_size": "lots"})
    with pytest.raises(ConfigError, match="choose one of"):
        resolve_config("policy", "tiny", overrides={"optimizer": "lbfgs"})


def test_overrides_are_typed_and_yaml_applies(tmp_path):
    over = parse_set_args(["lr=0.05", "steps=7", "augment=false", "dataset_kwargs.seed=3", "betas=[0.8,0.9]"])
    cfg = resolve_config("location", "tiny", overrides=over)
    assert cfg.lr == 0.05 and cfg.steps == 7 and cfg.augment is False
    assert cfg.dataset_kwargs == {"seed": 3} and cfg.betas == (0.8, 0.9)
    assert cfg.num_glimpses == 12  # the stage default of the preset
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"lr": 0.5, "teacher_forcing": True}))
    cfg = resolve_config("location", "tiny", config_file=str(conf), overrides={"lr": "0.25"})
    assert cfg.teacher_forcing is True and cfg.lr == 0.25  # --set wins over the file
    assert apply_overrides(cfg, {}).to_dict() == cfg.to_dict()
