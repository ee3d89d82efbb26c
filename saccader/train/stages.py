"""The training stages (SPEC 3 and 8.1), each a small set of functions run by one engine.

=================  ==========================  =========================================================
stage              model (tiny / imagenet)      objective
=================  ==========================  =========================================================
representation     bagnet33_tiny / bagnet77     per-location cross-entropy over the G x G grid (or CE of
                                                the mean logits: ``representation_loss``)
location           saccader33_tiny / saccader77 self-supervised location pretraining, T = 12: CE of each
                                                step's location logits against the t-th best cell of the
                                                predicted class; the representation is frozen (its
                                                BNs: batch statistics by default, ``location_bn``)
policy             saccader33_tiny / saccader77 REINFORCE (reward = final prediction correct after T = 6,
                                                batch-mean baseline) + CE of the final logits (or of
                                                each step's: ``policy_xent``) + L2, whole model jointly
classnet           saccader_classnet_*          CE of the ClassNet on glimpses at the (frozen) Saccader's
                                                locations
dram               dram_tiny / dram             CE + 0.1 x Gaussian REINFORCE (DRAM baseline, SPEC 8.1)
fullimage          resnet_tiny_full /           CE of a standard CNN on the whole image (the full-image
                   resnetv2_50_full             reference, SPEC 8.2)
=================  ==========================  =========================================================

Chaining (``init_from``): location starts from a representation run, policy from a location run
(or, with ``init_location="scratch"``, from a representation run: the ablation without location
pretraining), classnet from a policy run. representation, dram and fullimage start from scratch.

Every stage provides ``build(cfg, load=True) -> model`` (``load=False``: random weights, for
benchmarks), ``trainable(net, cfg) -> params``,
``set_train_mode(net, cfg)``, ``loss(model, net, images, labels, cfg) -> (loss, metrics)`` and
``evaluate(net, images, labels, cfg) -> {name: sum over the batch}`` (with a ``count`` entry; the
engine sums over batches and ranks and divides by ``count``). ``model`` is what to call for the
training forward (possibly DDP-wrapped or compiled), ``net`` the plain module.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from saccader import losses
from saccader.train import checkpoint as ckpt
from saccader.train.config import ConfigError, TrainConfig


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def create(cfg: TrainConfig) -> nn.Module:
    from saccader.models import create_model

    return create_model(cfg.model, **cfg.model_kwargs)


def required_stage(cfg: TrainConfig) -> str | None:
    """The stage whose checkpoint ``init_from`` must hold (None: trained from scratch)."""
    if cfg.stage == "location":
        return "representation"
    if cfg.stage == "policy":
        return "location" if cfg.init_location == "pretrained" else "representation"
    if cfg.stage == "classnet":
        return "policy"
    return None


def load_init(cfg: TrainConfig) -> dict | None:
    """The model state dict of the previous stage's checkpoint (``cfg.init_from``), checked."""
    need = required_stage(cfg)
    if need is None:
        if cfg.init_from:
            raise ConfigError(f"stage {cfg.stage!r} trains from scratch; remove init_from={cfg.init_from!r}")
        return None
    if not cfg.init_from:
        raise ConfigError(f"stage {cfg.stage!r} starts from a trained {need!r} run: pass --init-from RUN_DIR "
                          f"(or --set init_from=RUN_DIR) pointing at the {need} run directory or its checkpoint")
    path = ckpt.resolve_path(cfg.init_from)
    state = ckpt.load(path)
    if state["stage"] != need:
        hint = " (or --set init_location=scratch to start the policy from a representation run)" if cfg.stage == "policy" else ""
        raise ConfigError(f"init_from={cfg.init_from!r} holds a {state['stage']!r} checkpoint, but stage "
                          f"{cfg.stage!r} (init_location={cfg.init_location!r}) needs a {need!r} run{hint}")
    if not state.get("finished", False):
        warnings.warn(f"init_from {path} is a checkpoint of an unfinished {need} run (step {state.get('step')})")
    return state


def check_init(cfg: TrainConfig) -> None:
    """What ``load_init`` will find, checked before a run writes anything: a stage that trains from
    scratch has no ``init_from``; the others have one that names an existing checkpoint of the
    stage they start from (read without its tensors: ``mmap``)."""
    need = required_stage(cfg)
    if need is None or not cfg.init_from:
        load_init(cfg)  # raises for an init_from of a from-scratch stage, or a missing one of the others
        return
    path = ckpt.resolve_path(cfg.init_from)
    if not path.is_file():
        where = (f"{path} is missing (the run holds no checkpoint)" if Path(cfg.init_from).is_dir()
                 else f"{path} does not exist")
        raise ConfigError(f"init_from={cfg.init_from!r}: {where}; pass --init-from the {need} run directory "
                          f"(or its {ckpt.CHECKPOINT_NAME}) of a finished {need} run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        stage = state.get("stage") if isinstance(state, dict) else None
    except Exception:  # unreadable: ckpt.load says so (CheckpointError naming the file)
        ckpt.load(path)
        return
    if stage != need:
        if stage is None:
            ckpt.load(path)  # not a training checkpoint: CheckpointError
        hint = " (or --set init_location=scratch to start the policy from a representation run)" if cfg.stage == "policy" else ""
        raise ConfigError(f"init_from={cfg.init_from!r} holds a {stage!r} checkpoint, but stage "
                          f"{cfg.stage!r} (init_location={cfg.init_location!r}) needs a {need!r} run{hint}")


def _load(module: nn.Module, state: dict, cfg: TrainConfig, what: str) -> None:
    try:
        module.load_state_dict(state["model"], strict=True)
    except RuntimeError as exc:
        src = state.get("config", {}).get("model", "?")
        raise ConfigError(f"the weights in init_from={cfg.init_from!r} (model {src!r}) do not fit the {what} of "
                          f"{cfg.model!r}: {str(exc).splitlines()[0]} ... use a run of the matching model") from None


def _freeze(params) -> None:
    for p in params:
        p.requires_grad_(False)


def _penalty(params, weight: float, cfg: TrainConfig) -> torch.Tensor:
    """``weight`` x normalized L2 of ``params`` when weight_decay_mode == "normalized_l2", else 0."""
    if cfg.weight_decay_mode != "normalized_l2" or weight == 0:
        return torch.zeros(())
    return weight * losses.normalized_l2(params)


def _l2_split(net: nn.Module, location_params) -> tuple[list, list]:
    """(classification, location) parameters under the L2 penalty (official name filter)."""
    loc_ids = {id(p) for p in location_params}
    all_l2 = losses.l2_parameters(net)
    return [p for p in all_l2 if id(p) not in loc_ids], [p for p in all_l2 if id(p) in loc_ids]


def _acc(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.detach().argmax(-1) == labels).float().mean()


def _correct(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == labels).float().sum()


def _ordered_targets(logits2d: torch.Tensor, num: int) -> torch.Tensor:
    from saccader.models.policies import ordered_targets

    return ordered_targets(logits2d, num)


def _get(out, key):
    return out[key] if isinstance(out, dict) else getattr(out, key)


# ------------------------------------------------------------------------------------------------
# stage 1: representation (BagNet)
# ------------------------------------------------------------------------------------------------

def representation_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    if load:
        load_init(cfg)  # rejects an init_from: the BagNet trains from scratch
    return create(cfg)


def all_trainable(net: nn.Module, cfg: TrainConfig) -> list:
    return [p for p in net.parameters() if p.requires_grad]


def plain_train_mode(net: nn.Module, cfg: TrainConfig) -> None:
    net.train()


def representation_loss(model, net, images, labels, cfg: TrainConfig):
    out = model(images)
    if cfg.representation_loss == "per_location":
        xent = losses.per_location_xent(out["logits2d"], labels, cfg.label_smoothing)
    else:
        xent = losses.mean_logits_xent(out["logits2d"], labels, cfg.label_smoothing)
    l2 = _penalty(losses.l2_parameters(net), cfg.l2_weight, cfg).to(xent.device)
    return xent + l2, {"xent": xent.detach(), "l2": l2.detach(), "acc": _acc(out["logits"], labels)}


def representation_eval(net, images, labels, cfg: TrainConfig) -> dict:
    out = net(images)
    per_loc = (out["logits2d"].argmax(1) == labels[:, None, None]).float().mean(dim=(1, 2)).sum()
    return {"count": torch.tensor(float(len(labels))), "acc": _correct(out["logits"], labels), "acc_per_location": per_loc}


# ------------------------------------------------------------------------------------------------
# stage 2: location pretraining (Saccader, representation frozen)
# ------------------------------------------------------------------------------------------------

def location_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    net = create(cfg)
    if load:
        _load(net.representation, load_init(cfg), cfg, "representation")
    loc = {id(p) for p in net.location_parameters()}
    _freeze(p for p in net.parameters() if id(p) not in loc)
    return net


def location_trainable(net, cfg: TrainConfig) -> list:
    return list(net.location_parameters())


def location_train_mode(net, cfg: TrainConfig) -> None:
    """The head trains; the frozen representation's BNs follow ``cfg.location_bn``: "batch" and
    "batch_update" keep it in train mode (batch statistics, as the official code, which calls it
    with ``is_training`` and stops only its gradient), "running" puts it in eval mode."""
    net.train()
    if cfg.location_bn == "running":
        net.representation.eval()  # BN uses its running statistics and they are not updated


@contextmanager
def _running_stats_frozen(module: nn.Module, frozen: bool = True):
    """Batch norms of ``module`` in train mode normalize with the batch statistics but leave their
    running averages (and counters) untouched while inside (``track_running_stats`` off)."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not frozen:
        yield
        return
    for m in bns:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in bns:
            m.track_running_stats = True


def location_loss(model, net, images, labels, cfg: TrainConfig):
    steps = cfg.num_glimpses
    # "batch": the representation's running averages stay those of the representation run
    freeze = cfg.location_bn == "batch"
    if cfg.teacher_forcing:
        with torch.no_grad(), _running_stats_frozen(net.representation, freeze or cfg.location_bn == "batch_update"):
            targets = _ordered_targets(net.representation(images)["logits2d"].float(), steps)
        with _running_stats_frozen(net.representation, freeze):
            out = model(images, num_glimpses=steps, policy="learned", detach_representation=True,
                        forced_indices=targets)
    else:
        # official code: the cell state comes from the model's own samples
        with _running_stats_frozen(net.representation, freeze):
            out = model(images, num_glimpses=steps, policy="learned", detach_representation=True)
        targets = _ordered_targets(out.logits2d.detach().float(), steps)
    xent = losses.location_pretraining_loss(out.location_logits, targets)
    l2 = _penalty(losses.l2_parameters(net), cfg.l2_loc_weight, cfg).to(xent.device)  # only location params are trainable
    top = (out.location_logits.detach().argmax(-1) == targets).float()
    return xent + l2, {
        "xent": xent.detach(), "l2": l2.detach(),
        "top_match": top.mean(),  # the most likely cell is the target, all steps
        "top_match_first": top[:, 0].mean(),  # ... at the first step
        "sample_match": (out.indices == targets).float().mean(),
    }


def location_eval(net, images, labels, cfg: TrainConfig) -> dict:
    steps = cfg.num_glimpses
    t_eval = min(cfg.total_glimpses_eval, steps)
    out = net(images, num_glimpses=steps, policy="learned")
    targets = _ordered_targets(out.logits2d.float(), steps)
    match = (out.indices == targets).float()
    n = torch.tensor(float(len(labels)))
    ordered = net(images, num_glimpses=t_eval, policy="ordered_logits")
    return {"count": n, "target_match": match.mean(1).sum(), "target_match_first": match[:, 0].sum(),
            "acc": _correct(out.step_logits[:, :t_eval].mean(1), labels),
            "acc_ordered_logits": _correct(ordered.logits, labels),
            "acc_image": _correct(out.image_logits, labels)}


# ------------------------------------------------------------------------------------------------
# stage 3: policy gradient, whole model jointly
# ------------------------------------------------------------------------------------------------

def policy_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    net = create(cfg)
    if load and cfg.init_location == "pretrained":
        _load(net, load_init(cfg), cfg, "whole Saccader")
    elif load:
        _load(net.representation, load_init(cfg), cfg, "representation")
    return net


def policy_loss(model, net, images, labels, cfg: TrainConfig):
    out = model(images, num_glimpses=cfg.num_glimpses, policy="learned")
    rewards = losses.correct_rewards(out.logits, labels, cfg.use_punishment)
    reinforce = losses.reinforce_discrete(out.location_logits, out.indices, rewards)
    # supervised term at the sampled locations (a choice, policy_xent): CE of the final prediction
    # (mean of the T step logits), or the mean over t of the CE of each step's logits
    if cfg.policy_xent == "per_step":
        b, t, c = out.step_logits.shape
        xent = F.cross_entropy(out.step_logits.float().reshape(b * t, c), labels.repeat_interleave(t),
                               label_smoothing=cfg.label_smoothing)
    else:
        xent = F.cross_entropy(out.logits.float(), labels, label_smoothing=cfg.label_smoothing)
    cls_params, loc_params = _l2_split(net, net.location_parameters())
    l2 = (_penalty(cls_params, cfg.l2_weight, cfg) + _penalty(loc_params, cfg.l2_loc_weight, cfg)).to(xent.device)
    loss = cfg.xent_weight * xent + cfg.reinforce_weight * reinforce + l2
    return loss, {"xent": xent.detach(), "reinforce": reinforce.detach(), "l2": l2.detach(),
                  "reward": (out.logits.detach().argmax(-1) == labels).float().mean()}


def policy_eval(net, images, labels, cfg: TrainConfig) -> dict:
    t = cfg.total_glimpses_eval
    out = net(images, num_glimpses=t, policy="learned")
    rand = net(images, num_glimpses=t, policy="random")
    return {"count": torch.tensor(float(len(labels))), "acc": _correct(out.logits, labels),
            "acc_random": _correct(rand.logits, labels), "acc_image": _correct(out.image_logits, labels)}


# ------------------------------------------------------------------------------------------------
# Saccader-ClassNet
# ------------------------------------------------------------------------------------------------

def classnet_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    from saccader.models import create_model

    net = create_model(cfg.model, **{"freeze_saccader": cfg.freeze_saccader, **cfg.model_kwargs})
    if load:
        _load(net.saccader, load_init(cfg), cfg, "saccader")
    if cfg.freeze_saccader:
        _freeze(net.saccader.parameters())
    return net


def classnet_train_mode(net, cfg: TrainConfig) -> None:
    net.train()
    if cfg.freeze_saccader:
        net.saccader.eval()  # frozen Saccader: argmax locations, BN running statistics


def _classnet_call(model, net, images, glimpses: int):
    """The ClassNet on ``images``. Images smaller than its input (the 96-px clutter images for the
    144-px tiny ClassNet) are upsampled (bicubic) for the glimpses, and the Saccader gets the
    original images when they have its input size (no down-up resampling round trip)."""
    hires = net.hires_size
    lowres = None
    if images.shape[-1] != hires:
        if images.shape[-1] == net.saccader_size:
            lowres = images
        images = F.interpolate(images, size=(hires, hires), mode="bicubic", align_corners=False)
    return model(images, images_saccader=lowres, num_glimpses=glimpses)


def classnet_loss(model, net, images, labels, cfg: TrainConfig):
    out = _classnet_call(model, net, images, cfg.num_glimpses)
    xent = F.cross_entropy(out.logits.float(), labels, label_smoothing=cfg.label_smoothing)
    l2 = _penalty(losses.l2_parameters(net.classnet), cfg.l2_weight, cfg).to(xent.device)
    return xent + l2, {"xent": xent.detach(), "l2": l2.detach(), "acc": _acc(out.logits, labels)}


def classnet_eval(net, images, labels, cfg: TrainConfig) -> dict:
    out = _classnet_call(net, net, images, cfg.total_glimpses_eval)
    return {"count": torch.tensor(float(len(labels))), "acc": _correct(out.logits, labels)}


# ------------------------------------------------------------------------------------------------
# DRAM baseline
# ------------------------------------------------------------------------------------------------

def dram_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    if load:
        load_init(cfg)  # rejects an init_from: DRAM trains from scratch
    return create(cfg)


def dram_loss(model, net, images, labels, cfg: TrainConfig):
    out = model(images, num_glimpses=cfg.num_glimpses)
    if cfg.dram_xent == "per_step":  # CE of every step's logits; reward r_t of step t for location l_t
        steps = out.step_logits  # (B, T, C)
        xent = F.cross_entropy(steps.flatten(0, 1).float(), labels.repeat_interleave(steps.shape[1]),
                               label_smoothing=cfg.label_smoothing)
        rewards = losses.correct_rewards(steps, labels[:, None], cfg.use_punishment)  # (B, T)
    else:  # "final": CE of the prediction; its reward for every step's location
        xent = F.cross_entropy(out.logits.float(), labels, label_smoothing=cfg.label_smoothing)
        rewards = losses.correct_rewards(out.logits, labels, cfg.use_punishment)
    reinforce = losses.reinforce_gaussian(out.log_prob, rewards)
    loc = list(net.location_parameters()) if hasattr(net, "location_parameters") else []
    cls_params, _ = _l2_split(net, loc)  # official: L2 on the classification variables only
    l2 = _penalty(cls_params, cfg.l2_weight, cfg).to(xent.device)
    loss = cfg.xent_weight * xent + cfg.dram_reinforce_weight * reinforce + l2
    return loss, {"xent": xent.detach(), "reinforce": reinforce.detach(), "l2": l2.detach(),
                  "acc": _acc(out.logits, labels)}


def dram_eval(net, images, labels, cfg: TrainConfig) -> dict:
    out = net(images, num_glimpses=cfg.total_glimpses_eval)
    return {"count": torch.tensor(float(len(labels))), "acc": _correct(out.logits, labels)}


# ------------------------------------------------------------------------------------------------
# full-image reference CNN
# ------------------------------------------------------------------------------------------------

def fullimage_build(cfg: TrainConfig, load: bool = True) -> nn.Module:
    if load:
        load_init(cfg)  # rejects an init_from: the reference CNN trains from scratch
    return create(cfg)


def fullimage_loss(model, net, images, labels, cfg: TrainConfig):
    logits = model(images)["logits"]
    xent = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
    l2 = _penalty(losses.l2_parameters(net), cfg.l2_weight, cfg).to(xent.device)
    return xent + l2, {"xent": xent.detach(), "l2": l2.detach(), "acc": _acc(logits, labels)}


def fullimage_eval(net, images, labels, cfg: TrainConfig) -> dict:
    return {"count": torch.tensor(float(len(labels))), "acc": _correct(net(images)["logits"], labels)}


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    name: str
    build: Callable
    trainable: Callable
    set_train_mode: Callable
    loss: Callable
    evaluate: Callable
    description: str = ""
    resize_input: bool = True  # the engine resizes images to the model's input size (else the stage does)


STAGE_SPECS: dict[str, Stage] = {
    "representation": Stage("representation", representation_build, all_trainable, plain_train_mode,
                            representation_loss, representation_eval, "BagNet classification (SPEC 3.1)"),
    "location": Stage("location", location_build, location_trainable, location_train_mode,
                      location_loss, location_eval, "location pretraining, representation frozen (SPEC 3.2)"),
    "policy": Stage("policy", policy_build, all_trainable, plain_train_mode,
                    policy_loss, policy_eval, "REINFORCE + CE, whole model (SPEC 3.3)"),
    "classnet": Stage("classnet", classnet_build, all_trainable, classnet_train_mode,
                      classnet_loss, classnet_eval, "ClassNet on the Saccader's glimpses (SPEC 3.4)",
                      resize_input=False),
    "dram": Stage("dram", dram_build, all_trainable, plain_train_mode,
                  dram_loss, dram_eval, "DRAM baseline: CE + 0.1 Gaussian REINFORCE (SPEC 8.1)"),
    "fullimage": Stage("fullimage", fullimage_build, all_trainable, plain_train_mode,
                       fullimage_loss, fullimage_eval, "standard CNN on the full image (reference, SPEC 8.2)"),
}


def get_stage(name: str) -> Stage:
    if name not in STAGE_SPECS:
        raise ConfigError(f"unknown stage {name!r}; stages: {', '.join(STAGE_SPECS)}")
    return STAGE_SPECS[name]


__all__ = ["Stage", "STAGE_SPECS", "get_stage", "required_stage", "load_init", "check_init"]
