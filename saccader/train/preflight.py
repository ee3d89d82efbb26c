"""The checks made before a run writes anything: the ones that need files or the model (the keys
themselves are checked by ``TrainConfig.validate``)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from saccader.train.config import ConfigError, TrainConfig
from saccader.train.stages import get_stage

def preflight(cfg: TrainConfig) -> None:
    """The checks that need files, made before a run writes anything (``TrainConfig.validate``
    checks the keys themselves): the run folder can be written; the ``init_from`` checkpoint exists
    and is of the right stage; the ImageNet folder holds the splits; the model can be built with
    ``model_kwargs`` (on the meta device: no memory, no random numbers) and has a logit for every
    label of the data set. Each problem raises ``ConfigError`` (or ``CheckpointError``)."""
    from saccader.errors import one_line
    from saccader.train.config import check_output_dir
    from saccader.train.stages import check_init

    check_output_dir(cfg.run_dir)
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if cfg.batch_size % world:
        raise ConfigError(f"batch_size={cfg.batch_size} (global) must be divisible by the number of processes "
                          f"({world}); pass e.g. --set batch_size={cfg.batch_size - cfg.batch_size % world or world}")
    if cfg.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("tensorboard=true needs the tensorboard package: pip install tensorboard "
                              "(or --set tensorboard=false)")
    check_init(cfg)
    if cfg.dataset in ("imagenet", "imagenette"):
        _check_imagenet_dir(cfg)
    try:
        with torch.device("meta"):
            net_cfg = get_stage(cfg.stage).build(cfg, load=False).cfg
    except (TypeError, ValueError) as err:
        if not cfg.model_kwargs:
            return  # not the user's keywords: the real build reports it
        raise ConfigError(f"model_kwargs={cfg.model_kwargs!r}: model {cfg.model!r} cannot be built with them "
                          f"({one_line(err)}); fix or remove them (--set model_kwargs.KEY=VALUE)") from None
    except Exception:  # something the meta device does not support: the real build will tell
        return
    _check_labels(cfg, net_cfg)


def _class_folders(split_dir: Path) -> list[str]:
    with os.scandir(split_dir) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def _data_root(cfg: TrainConfig):
    """The folder holding the split folders (for imagenette, also the download folder under it)."""
    if cfg.dataset == "imagenette":
        from saccader.data.imagenette import resolve_root

        return resolve_root(cfg.data_dir, cfg.dataset_kwargs.get("size"))
    return cfg.data_dir


def _check_imagenet_dir(cfg: TrainConfig) -> None:
    """Every split the run reads is a folder of class folders under ``data_dir``."""
    from saccader.data.imagenet import resolve_split_dir
    from saccader.errors import one_line

    if not cfg.data_dir:
        raise ConfigError(f"the {cfg.dataset} data set needs its folder: pass --data-dir DIR "
                          "(holding train/<wnid>/*.JPEG and val/<wnid>/*.JPEG)")
    try:
        root = _data_root(cfg)
    except (OSError, ValueError) as err:
        raise ConfigError(f"data_dir={cfg.data_dir!r}: {one_line(err)}") from None
    for split in dict.fromkeys(s for s in (cfg.train_split, cfg.eval_split, cfg.test_split) if s):
        try:
            split_dir = resolve_split_dir(root, split)
            found = _class_folders(split_dir)
        except (OSError, ValueError) as err:
            raise ConfigError(f"data_dir={cfg.data_dir!r}: {one_line(err)}") from None
        if not found:
            raise ConfigError(f"data_dir={cfg.data_dir!r}: {split_dir} has no class folders; expected "
                              f"{split_dir}/<wnid>/*.JPEG (sort the ILSVRC-2012 val images into class folders, "
                              "e.g. with valprep.sh)")


def _check_labels(cfg: TrainConfig, net_cfg) -> None:
    """The model has a logit for every label of the data set (else training fails at the first
    batch with 'Target N is out of bounds')."""
    kw = cfg.dataset_kwargs
    if cfg.dataset == "clutter":
        from saccader.data.synthetic import ClutterConfig

        fields = {k: v for k, v in kw.items() if k in {f.name for f in dataclasses.fields(ClutterConfig)}}
        labels = ClutterConfig.from_overrides(fields).num_classes
    else:
        from saccader.data.imagenet import resolve_split_dir

        offset = kw.get("label_offset", net_cfg.label_offset)
        classes = kw.get("classes") or _class_folders(resolve_split_dir(_data_root(cfg), cfg.train_split))
        labels = len(classes) + offset
    have = net_cfg.num_classes
    if have >= labels:
        return
    if "num_classes" in cfg.model_kwargs:
        key = f"model_kwargs.num_classes={cfg.model_kwargs['num_classes']!r}"
    elif "num_classes" in kw:
        key = f"dataset_kwargs.num_classes={kw['num_classes']!r}"
    else:
        key = f"model={cfg.model!r}"
    raise ConfigError(f"{key}: the model {cfg.model!r} has {have} classes but the {cfg.dataset} data set has labels "
                      f"0..{labels - 1}; pass --set model_kwargs.num_classes={labels} (or a data set with at most "
                      f"{have} labels)")
