"""Every bad command-line input ends in one line ``error: <what is wrong; how to fix it>`` on
stderr and exit status 2, before any work starts: no traceback, no run folder, no file written.

One table, run in-process through ``saccader.cli.main`` (and the ``python -m saccader.train.cli`` /
``python -m saccader.data.cli`` entry points). ``{tmp}`` in an argument is the test's tmp_path,
which holds the fixtures of :func:`_fixtures`; nothing may be added to it.
"""
from __future__ import annotations

import os

import pytest
import torch

from saccader import cli
from saccader.data import cli as data_cli
from saccader.train import cli as train_cli

RUN = ["--run-dir", "{tmp}/run"]


def T(*args: str) -> list[str]:
    """``train ...`` with the run folder in tmp (unless the case names its own)."""
    return ["train", *args, *([] if "--run-dir" in args else RUN)]


# (argv, expected substring of the one-line message); every case must exit with status 2
CASES = [
    # --init-from: every stage uses it or refuses it (issue 13, item 1)
    (T("representation", "--init-from", "{tmp}/does-not-exist"), "trains from scratch"),
    (T("representation", "--init-from", "{tmp}"), "remove --init-from"),
    (T("dram", "--init-from", "{tmp}"), "trains from scratch"),
    (T("fullimage", "--init-from", "{tmp}"), "trains from scratch"),
    (T("location"), "pass --init-from"),
    (T("location", "--init-from", "{tmp}/does-not-exist"), "does not exist"),
    (T("location", "--init-from", "{tmp}/empty"), "holds no checkpoint"),
    (T("location", "--init-from", "{tmp}/garbage.pt"), "corrupted or truncated"),
    (T("location", "--init-from", "{tmp}/policy.pt"), "holds a 'policy' checkpoint"),
    (T("classnet", "--init-from", "{tmp}/policy.pt", "--set", "model_kwargs.nokey=1"), "cannot be built with them"),
    # every key's type and range (issue 13, item 3)
    (T("representation", "--set", "lr=-0.1"), "lr=-0.1"),
    (T("representation", "--set", "lr=nan"), "lr=nan: must be a finite number"),
    (T("representation", "--set", "lr=0"), "must be a finite number > 0"),
    (T("representation", "--set", "lr=fast"), "expected a number"),
    (T("representation", "--set", "max_train_images=-1"), "max_train_images=-1"),
    (T("representation", "--set", "max_eval_images=-5"), "max_eval_images=-5"),
    (T("representation", "--set", "label_smoothing=2"), "label_smoothing=2.0: must be in [0.0, 1.0)"),
    (T("representation", "--set", "ckpt_every_steps=-1"), "ckpt_every_steps=-1"),
    (T("representation", "--set", "warmup_steps=-3"), "warmup_steps=-3"),
    (T("representation", "--set", "warmup_epochs=-1"), "warmup_epochs=-1"),
    (T("representation", "--set", "steps=-5"), "steps=-5"),
    (T("representation", "--set", "epochs=0", "steps=0"), "set epochs > 0 or steps > 0"),
    (T("representation", "--set", "batch_size=0"), "batch_size must be >= 1"),
    (T("representation", "--set", "eval_batch_size=-1"), "eval_batch_size=-1"),
    (T("representation", "--set", "momentum=1.5"), "momentum=1.5"),
    (T("representation", "--set", "betas=[0.9]"), "betas=[0.9]"),
    (T("representation", "--set", "betas=[0.9,1.5]"), "expected two numbers in [0, 1)"),
    (T("representation", "--set", "min_lr_ratio=2"), "min_lr_ratio=2.0"),
    (T("representation", "--set", "grad_clip=-1"), "grad_clip=-1.0"),
    (T("representation", "--set", "xent_weight=-1"), "xent_weight=-1.0"),
    (T("representation", "--set", "l2_weight=inf"), "l2_weight=inf: must be a finite number"),
    (T("representation", "--set", "log_every=0"), "log_every=0"),
    (T("representation", "--set", "eval_every=-1"), "eval_every=-1"),
    (T("representation", "--set", "num_workers=-2"), "num_workers=-2"),
    (T("representation", "--set", "seed=-1"), "seed=-1"),
    (T("representation", "--set", "cpu_threads=-1"), "cpu_threads=-1"),
    (T("representation", "--set", "num_glimpses=0"), "num_glimpses must be >= 1"),
    (T("representation", "--set", "optimizer=adam"), "optimizer='adam' is not valid"),
    (T("representation", "--set", "tensorboard=maybe"), "expected a boolean"),
    (T("representation", "--set", "steps=1.5"), "expected an integer"),
    (T("representation", "--set", "nokey=1"), "unknown config key 'nokey'"),
    (T("representation", "--set", "lr"), "expected key=value"),
    (T("representation", "--set", "stage=dram"), "the config says stage='dram'"),
    # names: model, data set, its keywords and splits, model keywords, labels
    (T("representation", "--set", "model=nosuchmodel"), "is not a registered model"),
    (T("representation", "--set", "dataset=mnist"), "dataset='mnist' is not a data set"),
    (T("representation", "--set", "dataset_kwargs.nokey=1"), "has no keyword 'nokey'"),
    (T("representation", "--set", "dataset_kwargs.num_classes=1"), "num_classes must be in"),
    (T("representation", "--set", "dataset_kwargs.augment=true"), "sets 'augment' itself"),
    (T("representation", "--set", "dataset_kwargs.num_images=0"), "dataset_kwargs.num_images=0"),
    (T("representation", "--set", "test_split=holdout"), "test_split='holdout' is not a split"),
    (T("representation", "--set", "model_kwargs.nokey=1"), "cannot be built with them"),
    (T("representation", "--set", "model_kwargs.num_classes=7"), "model_kwargs.num_classes=7"),
    (T("representation", "--set", "dataset_kwargs.num_classes=12"), "dataset_kwargs.num_classes=12"),
    # the device
    (T("representation", "--set", "device=tpu"), "device='tpu' is not a device"),
    (T("representation", "--set", "device=cuda:99"), "device='cuda:99'"),
    *([(T("representation", "--set", "device=cuda"), "no CUDA GPU")] if not torch.cuda.is_available() else []),
    # the run folder, the presets, the config file and the data folder
    (T("representation", "--run-dir", "{tmp}/afile"), "is a file, not a folder"),
    (T("representation", "--run-dir", "{tmp}/afile/run"), "is a file, so no folder can be made under it"),
    *([(T("representation", "--run-dir", "/proc/saccader-bad-input/run"), "cannot write in /proc")]
      if os.path.isdir("/proc") else []),
    (T("representation", "--preset", "huge"), "unknown preset 'huge'"),
    (T("representation", "--config", "{tmp}/missing.yaml"), "does not exist"),
    (T("representation", "--config", "{tmp}/list.yaml"), "must hold a mapping"),
    (T("representation", "--preset", "imagenet"), "pass --data-dir"),
    (T("representation", "--preset", "imagenet", "--data-dir", "{tmp}/does-not-exist"), "does not exist"),
    (T("representation", "--preset", "imagenet", "--data-dir", "{tmp}/empty"), "split folder"),
    (T("representation", "--preset", "imagenet", "--data-dir", "{tmp}/noclasses"), "has no class folders"),
    # evaluate
    (["evaluate", "--preset", "imagenet"], "pass --data-dir"),
    (["evaluate", "--preset", "imagenet", "--data-dir", "{tmp}/does-not-exist"], "does not exist"),
    (["evaluate", "--device", "tpu"], "--device 'tpu' is not a device"),
    (["evaluate", "--max-glimpses", "0"], "--max-glimpses 0: must be >= 1"),
    (["evaluate", "--max-images", "0"], "--max-images 0"),
    (["evaluate", "--max-occluded", "-1"], "--max-occluded -1"),
    (["evaluate", "--batch-size", "0"], "--batch-size 0"),
    (["evaluate", "--what", "training_seeds", "--train-seeds", "-1"], "--train-seeds -1"),
    # data
    (["data", "clutter", "--set", "nokey=1"], "unknown ClutterConfig field 'nokey'"),
    (["data", "clutter", "--set", "num_classes=1"], "num_classes must be in"),
    (["data", "clutter", "--set", "image_size=big"], "image_size='big'"),
    (["data", "clutter", "--num-images", "0"], "--num-images 0"),
    (["data", "clutter", "--cache-dir", "{tmp}/afile"], "is a file, not a folder"),
    (["data", "check-imagenet", "--data-dir", "{tmp}/does-not-exist"], "no such folder"),
    (["data", "check-imagenet", "--data-dir", "{tmp}/empty", "--workers", "0"], "--workers 0"),
    # book
    (["book", "--preset", "imagenet"], "pass --data-dir"),
    (["book", "--preset", "imagenet", "--data-dir", "{tmp}/does-not-exist"], "no such folder"),
    (["book", "--device", "gpu"], "--device 'gpu' is not a device"),
    (["book", "--only", "nosuchnotebook"], "no such notebook"),
    (["book", "--jobs", "0"], "--jobs 0: give a whole number of notebooks run side by side"),
    (["book", "--output", "{tmp}/afile/book"], "is a file, so no folder can be made under it"),
    # benchmark
    (["benchmark", "forward", "--models", "nosuchmodel"], "nosuchmodel: no such model"),
    (["benchmark", "forward", "--device", "tpu"], "--device 'tpu'"),
    (["benchmark", "forward", "--batch", "0"], "--batch 0"),
    (["benchmark", "forward", "--repeats", "0"], "--repeats 0"),
    (["benchmark", "train", "--models", "bagnet33_tiny"], "--models applies to 'benchmark forward' only"),
    # models
    (["models", "nosuchmodel"], "nosuchmodel: no such model"),
]

# the same inputs through the other entry points (torchrun's and the data module's)
ENTRY_CASES = [
    (train_cli.main, T("representation", "--init-from", "{tmp}/does-not-exist"), "trains from scratch"),
    (train_cli.main, T("representation", "--set", "lr=nan"), "lr=nan"),
    (train_cli.main, T("location", "--init-from", "{tmp}/does-not-exist"), "does not exist"),
    (data_cli.main, ["clutter", "--set", "nokey=1"], "unknown ClutterConfig field"),
    (data_cli.main, ["check-imagenet", "--data-dir", "{tmp}/does-not-exist"], "no such folder"),
]


def _fixtures(tmp) -> None:
    """What the cases point at: a file, an empty folder, ImageNet roots without images, checkpoints
    that cannot start a location run, YAML that is not a mapping."""
    (tmp / "afile").write_text("not a folder\n")
    (tmp / "empty").mkdir()
    (tmp / "noclasses" / "train").mkdir(parents=True)
    (tmp / "noclasses" / "val").mkdir()
    (tmp / "garbage.pt").write_bytes(b"this is not a checkpoint")
    torch.save({"stage": "policy", "model": {}, "config": {}}, tmp / "policy.pt")
    (tmp / "list.yaml").write_text("- lr\n- 0.1\n")


def _tree(tmp) -> list[str]:
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))


def _check(entry, argv, expected, tmp, capsys):
    _fixtures(tmp)
    before = _tree(tmp)
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    capsys.readouterr()
    code = entry(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0], lines[0]
    assert _tree(tmp) == before, "a bad input wrote files"


@pytest.mark.parametrize("argv,expected", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, expected, tmp_path, capsys):
    _check(cli.main, argv, expected, tmp_path, capsys)


@pytest.mark.parametrize("entry,argv,expected", ENTRY_CASES,
                         ids=[f"{c[0].__module__} {' '.join(c[1])}" for c in ENTRY_CASES])
def test_other_entry_points(entry, argv, expected, tmp_path, capsys):
    _check(entry, argv, expected, tmp_path, capsys)


def test_argparse_errors_exit_2(capsys):
    """Unknown sub-commands, stages, choices and malformed numbers are argparse's: usage + one
    error line, exit status 2."""
    for argv in (["nosuchcommand"], ["train", "nostage"], ["evaluate", "--preset", "huge"],
                 ["benchmark", "backward"], ["data", "clutter", "--num-images", "many"],
                 ["data", "clutter", "--set", "seed"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and "error:" in err.splitlines()[-1], argv


def test_init_from_on_representation_is_refused_before_anything_is_written(tmp_path):
    """Issue 13 item 1: the representation stage refused an init_from only silently (it ignored it)."""
    from saccader.train import engine
    from saccader.train.config import ConfigError
    from saccader.train.presets import resolve_config
    from saccader.train.stages import get_stage

    with pytest.raises(ConfigError, match="trains from scratch"):
        resolve_config("representation", "tiny", run_dir=str(tmp_path / "run"), init_from=str(tmp_path))
    # a config made in Python (no resolve_config) is refused by the engine and by the stage itself
    cfg = resolve_config("representation", "tiny", run_dir=str(tmp_path / "run"))
    bad = cfg.replace(init_from=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="trains from scratch"):
        engine.main(bad)
    with pytest.raises(ConfigError, match="trains from scratch"):
        get_stage("representation").build(bad)
    assert not (tmp_path / "run").exists()


def test_location_with_a_missing_init_from_is_refused_before_anything_is_written(tmp_path):
    from saccader.train import engine
    from saccader.train.config import ConfigError
    from saccader.train.presets import resolve_config

    cfg = resolve_config("location", "tiny", run_dir=str(tmp_path / "run"), init_from=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="does not exist"):
        engine.main(cfg)
    assert not (tmp_path / "run").exists()


def test_valid_configs_still_validate():
    """Every stage of every preset resolves (the checks refuse nothing the presets use)."""
    from saccader.train.config import STAGES
    from saccader.train.presets import preset_names, resolve_config

    for preset in preset_names():
        for stage in STAGES:
            resolve_config(stage, preset, data_dir="/data/imagenet")
