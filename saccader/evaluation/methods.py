"""The evaluated methods (``METHODS``), the trained model of each (read from the run cache,
``get_trained``) and its held-out split, and the curves of every method of a preset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import pandas as pd
import torch

from saccader import paths
from saccader.train.presets import preset_names
from saccader.evaluation.curves import (
    RESULT_COLUMNS,
    classnet_curves,
    dram_curves,
    full_image_curves,
    resolve_device,
    saccader_curves,
)

SACCADER_POLICIES = ("learned", "ordered_logits", "random", "center", "sobel_mean", "sobel_var")
PRESETS = tuple(preset_names())  # every training preset (saccader.train.presets)
DEFAULT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Method:
    """One evaluated model: the stage whose run holds it, overrides of that stage, its policies."""

    name: str
    stage: str
    policies: tuple[str, ...]
    overrides: dict = field(default_factory=dict)
    description: str = ""


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("saccader", "policy", SACCADER_POLICIES, {}, "Saccader (policy run) with each policy"),
    Method("saccader_no_pretraining", "policy", ("learned",), {"init_location": "scratch"},
           "Saccader trained without location pretraining (Figure Supp.3)"),
    Method("dram", "dram", ("learned",), {}, "DRAM baseline (SPEC 8.1)"),
    Method("saccader_classnet", "classnet", ("learned",), {}, "Saccader-ClassNet (SPEC 2.7)"),
    Method("bagnet_full_image", "representation", ("all_cells",), {}, "BagNet, mean of every cell's logits"),
    Method("cnn_full_image", "fullimage", ("full_image",), {}, "standard CNN on the whole image (reference)"),
)}
# the methods that see the whole image (one row each, drawn as reference lines)
FULL_IMAGE_METHODS = ("bagnet_full_image", "cnn_full_image")
# how each method and policy is named in the tables and figures
METHOD_LABELS = {
    "saccader": "Saccader",
    "saccader_no_pretraining": "Saccader, no location pretraining",
    "dram": "DRAM",
    "saccader_classnet": "Saccader-ClassNet",
    "bagnet_full_image": "BagNet, full image",
    "cnn_full_image": "CNN, full image",
}
POLICY_LABELS = {
    "learned": "learned",
    "ordered_logits": "ordered logits",
    "random": "random",
    "center": "centre",
    "sobel_mean": "Sobel mean",
    "sobel_var": "Sobel variance",
    "all_cells": "all cells",
    "full_image": "full image",
}


def curve_label(method: str, policy: str) -> str:
    if method == "saccader":
        return "Saccader (learned)" if policy == "learned" else f"{POLICY_LABELS.get(policy, policy)} policy"
    return METHOD_LABELS.get(method, method)


def check_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose among {', '.join(METHODS)}")
    return METHODS[name]


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return preset


# ------------------------------------------------------------------------------------------------
# trained models and their held-out split
# ------------------------------------------------------------------------------------------------

def _chain(data_dir: str | None, train_seed: int | None = None) -> dict:
    """Config keys of a whole stage chain: the data folder and the training seed."""
    chain = {"data_dir": str(data_dir)} if data_dir else {}
    if train_seed is not None:
        chain["seed"] = int(train_seed)
    return chain


def trained_model(stage: str, preset: str = "tiny", overrides: dict | None = None, data_dir: str | None = None,
                  device: str | torch.device = "cpu", train_seed: int | None = None):
    """(model in eval mode, RunResult) of the trained run of ``stage`` (trained now if missing);
    ``train_seed``: the training seed of the run and of its prerequisite runs (None: the preset's)."""
    from saccader.train import checkpoint
    from saccader.train.runs import get_trained
    from saccader.train.stages import get_stage

    run = get_trained(stage, preset, overrides=overrides, runs_root=paths.runs_dir(),
                      chain_overrides=_chain(data_dir, train_seed))
    net = get_stage(stage).build(run.config, load=False)
    net.load_state_dict(checkpoint.load(run.checkpoint)["model"])
    return net.to(resolve_device(device)).eval(), run


def method_model(method: str, preset: str = "tiny", data_dir: str | None = None, device: str | torch.device = "cpu",
                 train_seed: int | None = None):
    """(model, RunResult) of a method of :data:`METHODS`."""
    m = check_method(method)
    return trained_model(m.stage, check_preset(preset), m.overrides, data_dir, device, train_seed)


def heldout_split(config, net_cfg, data_dir: str | None = None):
    """The held-out split of a run exactly as the training engine builds it (``engine.build_split``):
    the test split, or the validation split when the preset has none (ImageNet)."""
    from saccader.train.engine import build_split

    if data_dir:
        config = config.replace(data_dir=str(data_dir))
    return build_split(config, config.test_split or config.eval_split, net_cfg, train=False)


def input_preparer(stage: str, net_cfg) -> Callable | None:
    """Resize batches to the model's input size as the engine does (``engine._prepare``), for the
    stages whose images the engine resizes."""
    from saccader.train.engine import _prepare
    from saccader.train.stages import get_stage

    if not get_stage(stage).resize_input:
        return None
    size = net_cfg.input_size[-1]
    return lambda x: _prepare(x, torch.zeros(len(x)), size, x.device, False)[0]


def class_names(dataset) -> list[str] | None:
    """Names of the labels of a held-out split (clutter class names or ImageNet wnids), or None."""
    base = getattr(dataset, "dataset", dataset)  # the engine's _Head wraps the data set
    if getattr(base, "class_names", None) is not None:
        return list(base.class_names)
    if getattr(base, "classes", None) is not None:
        return ["background"] * int(getattr(base, "label_offset", 0)) + list(base.classes)
    return None


def _batch_size(preset: str, batch_size: int | None) -> int:
    return int(batch_size or (128 if preset == "tiny" else 256))


def evaluate_method(method: str, net, run_config, seeds: Sequence[int] = (0,), max_images: int | None = None,
                    device: str | torch.device = "cpu", data_dir: str | None = None, max_glimpses: int = 12,
                    batch_size: int = 128, policies: Sequence[str] | None = None) -> pd.DataFrame:
    """The curves of one method from its model and the config of the run that trained it
    (``policies``: a subset of the method's, default all)."""
    m = check_method(method)
    policies = tuple(policies or m.policies)
    if set(policies) - set(m.policies):
        raise ValueError(f"method {method!r} has the policies {m.policies}, not {sorted(set(policies) - set(m.policies))}")
    dataset = heldout_split(run_config, net.cfg, data_dir)
    prep = input_preparer(m.stage, net.cfg)
    kw = dict(batch_size=batch_size, max_images=max_images, device=device, seeds=seeds, method=method)
    if m.stage == "policy":
        return saccader_curves(net, dataset, policies, max_glimpses, prepare=prep, **kw)
    if m.stage == "dram":
        return dram_curves(net, dataset, max_glimpses, prepare=prep, **kw)
    if m.stage == "classnet":
        return classnet_curves(net, dataset, max_glimpses, **kw)
    return full_image_curves(net, dataset, prepare=prep, policy=policies[0], **kw)


def evaluate_all(preset: str, seeds: Sequence[int] = (0,), max_images: int | None = None, device: str = "cpu",
                 data_dir: str | None = None, methods: Sequence[str] | None = None, max_glimpses: int = 12,
                 batch_size: int | None = None) -> pd.DataFrame:
    """Tidy curves (``RESULT_COLUMNS``) of every method of :data:`METHODS` (or ``methods``) on the
    preset's held-out split; missing runs are trained first (``get_trained``)."""
    check_preset(preset)
    frames = _method_curves(preset, dict.fromkeys(methods or METHODS), seeds, max_images, device, data_dir,
                            max_glimpses, batch_size)
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]


def _method_curves(preset: str, methods: dict, seeds, max_images, device, data_dir, max_glimpses, batch_size,
                   train_seed: int | None = None) -> list[pd.DataFrame]:
    """One curves frame per method of ``methods`` ({method: policies, None = all}), every name checked
    before anything is trained; ``train_seed``: the runs of that training seed (None: the preset's)."""
    for name in methods:
        check_method(name)
    frames = []
    for name, policies in methods.items():
        net, run = method_model(name, preset, data_dir, device, train_seed)
        frames.append(evaluate_method(name, net, run.config, seeds, max_images, device, data_dir, max_glimpses,
                                      _batch_size(preset, batch_size), policies))
    return frames
