"""Accuracy against the number of glimpses and against the fraction of the image attended (SPEC 4,
5.2), and the occlusion analysis.

For every policy here the glimpse at step ``t`` does not depend on how many glimpses will be
allowed, so one unroll to ``max_glimpses`` gives every point of a curve. Each point is
``(glimpses, coverage, top-1, top-5)`` averaged over the held-out images, where coverage is the
area of the union of the glimpse squares over the image area (overlaps count once, SPEC 4).

Methods (``METHODS``), each read from a trained run of the preset (``get_trained``):

=========================  ===============  =====================================================
method                     run              policies / readout
=========================  ===============  =====================================================
saccader                   policy           learned, ordered_logits, random, center, sobel_mean,
                                            sobel_var (the same trained model, its own BagNet);
                                            prediction after T glimpses = mean of the T cells' logits
saccader_no_pretraining    policy, with     learned (Figure Supp.3: policy gradient from a random
                           init_location=   location network)
                           scratch
dram                       dram             learned (mean location at test time); prediction after
                                            T glimpses = the classification LSTM's logits at step T.
                                            Coverage: the union of the high-resolution glimpse
                                            squares (the centre context step is not counted)
saccader_classnet          classnet         learned; coverage on the ClassNet's own (larger) image
                                            with its own glimpse size (SPEC 4)
bagnet_full_image          representation   the trained BagNet, logits averaged over every cell
                                            (one row: glimpses = G*G, coverage 1)
cnn_full_image             fullimage        a standard CNN trained on the whole image (one row:
                                            glimpses = 1, coverage 1)
=========================  ===============  =====================================================

**What a seed varies.** Evaluation is deterministic except for the random policy (uniform cells,
drawn from ``torch.manual_seed(seed)``); ``seeds`` repeats the random policy once per seed and
every other method once (its rows carry the first seed). The trained models are those of the
preset's training seed (``get_trained``'s cache); they are not retrained per seed.

**Training seeds.** :func:`get_training_seeds` retrains the Saccader chain (representation ->
location -> policy, and the ablation without location pretraining) with ``seed`` = 0, 1, 2 ...
(``TrainConfig.seed``: initialization, batch order, augmentation and policy samples; the data set
stays the same) and evaluates each, giving the spread of a result over training runs
(``data/results/<preset>/training_seeds.csv``, column ``train_seed``). Seed 0 is the preset's run.

The occlusion analysis (SPEC 5.2): a full-image classifier (``OCCLUSION_CLASSIFIERS``: the BagNet
of the representation run, and the standard CNN of the fullimage run, which shares no weights
with the Saccader) classifies the held-out images with the first ``k`` glimpse squares proposed
by a policy of the Saccader filled with 0, the data-set mean after normalization;
``k = 0 .. max_occluded``.

Results are cached in ``data/results/<preset>/{curves,occlusion,training_seeds}.csv`` with a ``.json`` holding
their provenance and a key: the training code version (``saccader.train.cache.code_version``),
a hash of this file, the run folder (stage and config hash) of every run used, and the evaluation settings.
:func:`get_results` / :func:`get_occlusion` reuse a file only when its key matches and say why
they recompute otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from saccader import paths
from saccader.train.cache import planned_run

RESULT_COLUMNS = ["method", "policy", "glimpses", "coverage", "top1", "top5", "images", "seed"]
OCCLUSION_COLUMNS = ["classifier", "policy", "occluded", "coverage", "top1", "top5", "images", "seed"]

SACCADER_POLICIES = ("learned", "ordered_logits", "random", "center", "sobel_mean", "sobel_var")
OCCLUSION_POLICIES = ("learned", "ordered_logits", "random", "sobel_mean", "sobel_var")
STOCHASTIC_POLICIES = frozenset({"random"})
PRESETS = ("tiny", "imagenet")
DEFAULT_SEEDS = (0, 1, 2)
TRAINING_SEEDS = (0, 1, 2)
SEED_COLUMNS = ["train_seed"] + RESULT_COLUMNS


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
OCCLUSION_CLASSIFIERS = FULL_IMAGE_METHODS
# what the training-seed study retrains and evaluates: {method: policies}
SEED_METHODS = {"saccader": ("learned", "ordered_logits", "random"), "saccader_no_pretraining": ("learned",),
                "bagnet_full_image": ("all_cells",)}


def check_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose among {', '.join(METHODS)}")
    return METHODS[name]


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return preset


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ------------------------------------------------------------------------------------------------
# accumulating curves
# ------------------------------------------------------------------------------------------------

@dataclass
class CurveAccumulator:
    """Sums of top-1 / top-5 hits and of coverage per number of glimpses, over batches (and ranks)."""

    max_glimpses: int
    top1: torch.Tensor = field(init=False)
    top5: torch.Tensor = field(init=False)
    coverage: torch.Tensor = field(init=False)
    images: int = 0

    def __post_init__(self):
        if self.max_glimpses < 1:
            raise ValueError(f"max_glimpses must be >= 1, got {self.max_glimpses}")
        self.top1 = torch.zeros(self.max_glimpses, dtype=torch.float64)
        self.top5 = torch.zeros(self.max_glimpses, dtype=torch.float64)
        self.coverage = torch.zeros(self.max_glimpses, dtype=torch.float64)

    def add(self, step_logits: torch.Tensor, labels: torch.Tensor, coverage: torch.Tensor | None,
            cumulative: bool = True) -> None:
        """step_logits (B, T, C); labels (B,); coverage (B, T) cumulative union fraction, or None
        for the full image (1).

        ``cumulative``: the prediction after t glimpses is the mean of the first t step logits
        (Saccader, engineered policies, ClassNet); otherwise step t's own logits (DRAM, whose
        recurrent core integrates the glimpses itself)."""
        b, t, _ = step_logits.shape
        if t < self.max_glimpses:
            raise ValueError(f"got {t} glimpses, need {self.max_glimpses}")
        if labels.shape != (b,):
            raise ValueError(f"labels must be ({b},), got {tuple(labels.shape)}")
        logits = step_logits[:, : self.max_glimpses].float()
        if cumulative:
            steps = torch.arange(1, self.max_glimpses + 1, device=logits.device, dtype=logits.dtype)
            logits = logits.cumsum(1) / steps.view(1, -1, 1)
        top5 = logits.topk(min(5, logits.shape[-1]), dim=-1).indices  # (B, T, k)
        hit = top5 == labels.to(top5.device).view(b, 1, 1)
        self.top1 += hit[..., 0].sum(0).double().cpu()
        self.top5 += hit.any(-1).sum(0).double().cpu()
        cov = torch.ones(b, self.max_glimpses) if coverage is None else coverage[:, : self.max_glimpses]
        if cov.shape != (b, self.max_glimpses):
            raise ValueError(f"coverage must be (B, T) = ({b}, >= {self.max_glimpses}), got {tuple(coverage.shape)}")
        self.coverage += cov.double().sum(0).cpu()
        self.images += b

    def all_reduce(self) -> None:
        """Sum over DDP ranks (each held-out image is counted on exactly one rank, see :func:`batches`)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            packed = torch.cat([self.top1, self.top5, self.coverage,
                                torch.tensor([float(self.images)], dtype=torch.float64)])
            device = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"
            packed = packed.to(device)
            torch.distributed.all_reduce(packed)
            packed = packed.cpu()
            m = self.max_glimpses
            self.top1, self.top5, self.coverage = packed[:m], packed[m:2 * m], packed[2 * m:3 * m]
            self.images = int(packed[-1].item())

    def frame(self, **labels) -> pd.DataFrame:
        """One row per number of glimpses: glimpses, coverage (fraction), top1, top5 (%), images,
        preceded by ``labels`` as constant columns."""
        n = max(self.images, 1)
        df = pd.DataFrame({
            "glimpses": range(1, self.max_glimpses + 1),
            "coverage": (self.coverage / n).numpy(),
            "top1": (100 * self.top1 / n).numpy(),
            "top5": (100 * self.top5 / n).numpy(),
            "images": self.images,
        })
        for k, v in reversed(list(labels.items())):
            df.insert(0, k, v)
        return df


def batches(dataset, batch_size: int, max_images: int | None = None) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic batches of the first ``max_images`` images of a held-out split (vectorised
    ``get_batch`` when the data set has it). Under DDP each rank gets images rank, rank + W, ..."""
    n = len(dataset) if max_images is None else min(len(dataset), int(max_images))
    idx = list(range(n))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        idx = idx[torch.distributed.get_rank()::torch.distributed.get_world_size()]
    if hasattr(dataset, "get_batch"):
        for start in range(0, len(idx), batch_size):
            x, y = dataset.get_batch(idx[start:start + batch_size])
            yield x, torch.as_tensor(y).long()
        return
    subset = torch.utils.data.Subset(dataset, idx)
    for x, y in torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=4):
        yield x, torch.as_tensor(y).long()


# ------------------------------------------------------------------------------------------------
# glimpse boxes and coverage
# ------------------------------------------------------------------------------------------------

def box_coverage(boxes: torch.Tensor, image_size: int) -> torch.Tensor:
    """boxes (B, T, 4) pixel boxes (y0, x0, y1, x1), end exclusive -> (B, T) fraction of the
    ``image_size`` square covered by the union of the first t + 1 boxes (clipped to the image)."""
    if boxes.dim() != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be (B, T, 4), got {tuple(boxes.shape)}")
    b, t, _ = boxes.shape
    px = torch.arange(image_size, device=boxes.device)
    rows = (px >= boxes[..., 0:1]) & (px < boxes[..., 2:3])  # (B, T, S)
    cols = (px >= boxes[..., 1:2]) & (px < boxes[..., 3:4])
    union = torch.zeros(b, image_size, image_size, dtype=torch.bool, device=boxes.device)
    out = torch.empty(b, t, device=boxes.device)
    for step in range(t):
        union |= rows[:, step, :, None] & cols[:, step, None, :]
        out[:, step] = union.flatten(1).float().mean(1)
    return out


def box_masks(boxes: torch.Tensor, image_size: int) -> torch.Tensor:
    """boxes (B, T, 4) (y0, x0, y1, x1) -> (B, T, S, S) bool: union of the first t + 1 boxes."""
    px = torch.arange(image_size, device=boxes.device)
    rows = (px >= boxes[..., 0:1]) & (px < boxes[..., 2:3])
    cols = (px >= boxes[..., 1:2]) & (px < boxes[..., 3:4])
    return (rows[..., :, None] & cols[..., None, :]).cummax(dim=1).values


def dram_boxes(locations: torch.Tensor, image_size: int, glimpse_size: int) -> torch.Tensor:
    """DRAM's high-resolution glimpse squares (B, T, 4) (y0, x0, y1, x1) from its normalized (y, x)
    locations (B, T, 2), with the top-left rule of ``saccader.models.dram.glimpse_top_left``."""
    from saccader.models.dram import glimpse_top_left

    b, t, _ = locations.shape
    top_left = glimpse_top_left(locations.reshape(b * t, 2), image_size, glimpse_size).view(b, t, 2)
    return torch.cat([top_left, top_left + int(glimpse_size)], dim=-1)


def classnet_boxes(net, indices: torch.Tensor) -> torch.Tensor:
    """The Saccader-ClassNet's glimpse squares (B, T, 4) on its own high-resolution image: the
    Saccader's cells at their normalized locations, with the ClassNet's glimpse size (as
    ``saccader.models.classnet.glimpses_at_indices``)."""
    from saccader.geometry import GlimpseGeometry

    geom = GlimpseGeometry.from_model_cfg(net.saccader.cfg)
    return geom.glimpse_boxes(indices, size=net.glimpse_size, image_size=net.hires_size)


def saccader_boxes(model, indices: torch.Tensor) -> torch.Tensor:
    """A Saccader's glimpse squares (B, T, 4) (y0, x0, y1, x1) at its cells (the code placement)."""
    from saccader.geometry import GlimpseGeometry

    return GlimpseGeometry.from_model_cfg(model.cfg).glimpse_boxes(indices)


# ------------------------------------------------------------------------------------------------
# curves of one model
# ------------------------------------------------------------------------------------------------

def _seeds_for(policy: str, seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds] or [0]
    return seeds if policy in STOCHASTIC_POLICIES else seeds[:1]


def _run_batches(dataset, batch_size, max_images, device, seed, desc, fn, prepare=None):
    """Call ``fn(images, labels)`` on every batch on ``device`` under a forked RNG seeded by ``seed``."""
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        for images, labels in tqdm(batches(dataset, batch_size, max_images), desc=desc, leave=False):
            images, labels = images.to(dev), labels.to(dev)
            if prepare is not None:
                images = prepare(images)
            fn(images, labels)


def _finish(acc: CurveAccumulator, **labels) -> pd.DataFrame:
    acc.all_reduce()
    return acc.frame(**labels)


@torch.no_grad()
def saccader_curves(model, dataset, policies: Iterable[str] = ("learned",), max_glimpses: int = 12,
                    batch_size: int = 128, max_images: int | None = None, device: str | torch.device = "cpu",
                    seeds: Sequence[int] = (0,), method: str = "saccader", prepare: Callable | None = None) -> pd.DataFrame:
    """Accuracy and coverage against glimpses of a Saccader under each policy (argmax for the learned
    one). The random policy is run once per seed; the others once (seed = the first seed)."""
    from saccader.geometry import GlimpseGeometry
    from saccader.models.policies import check_policy

    policies = [check_policy(p) for p in policies]
    dev = resolve_device(device)
    model = model.to(dev).eval()
    geom = GlimpseGeometry.from_model_cfg(model.cfg)
    frames = []
    for p in policies:
        for seed in _seeds_for(p, seeds):
            acc = CurveAccumulator(max_glimpses)

            def step(images, labels, p=p, acc=acc):
                out = model(images, num_glimpses=max_glimpses, policy=p, sample=False)
                acc.add(out.step_logits, labels, geom.coverage(out.indices))

            _run_batches(dataset, batch_size, max_images, dev, seed, f"{method}/{p}", step, prepare)
            frames.append(_finish(acc, method=method, policy=p, seed=seed))
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]


@torch.no_grad()
def dram_curves(model, dataset, max_glimpses: int = 12, batch_size: int = 128, max_images: int | None = None,
                device: str | torch.device = "cpu", seeds: Sequence[int] = (0,), method: str = "dram",
                prepare: Callable | None = None) -> pd.DataFrame:
    """DRAM's accuracy after each glimpse (its own readout: the last step's logits, or their running
    mean if the model predicts with the mean) and the union of its high-resolution squares."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    acc = CurveAccumulator(max_glimpses)
    cumulative = getattr(model, "prediction", "last") == "mean"

    def step(images, labels):
        out = model(images, num_glimpses=max_glimpses, sample=False)
        boxes = dram_boxes(out.locations, images.shape[-1], model.glimpse_size)
        acc.add(out.step_logits, labels, box_coverage(boxes, images.shape[-1]), cumulative=cumulative)

    seed = _seeds_for("learned", seeds)[0]
    _run_batches(dataset, batch_size, max_images, dev, seed, method, step, prepare)
    return _finish(acc, method=method, policy="learned", seed=seed)[RESULT_COLUMNS]


@torch.no_grad()
def classnet_curves(net, dataset, max_glimpses: int = 12, batch_size: int = 128, max_images: int | None = None,
                    device: str | torch.device = "cpu", seeds: Sequence[int] = (0,),
                    method: str = "saccader_classnet") -> pd.DataFrame:
    """Saccader-ClassNet: mean of the ClassNet's glimpse logits; coverage on its own image."""
    from saccader.train.stages import _classnet_call

    dev = resolve_device(device)
    net = net.to(dev).eval()
    acc = CurveAccumulator(max_glimpses)

    def step(images, labels):
        out = _classnet_call(net, net, images, max_glimpses)  # upsamples small images as in training
        acc.add(out.step_logits, labels, box_coverage(classnet_boxes(net, out.indices), net.hires_size))

    seed = _seeds_for("learned", seeds)[0]
    _run_batches(dataset, batch_size, max_images, dev, seed, method, step)
    return _finish(acc, method=method, policy="learned", seed=seed)[RESULT_COLUMNS]


@torch.no_grad()
def full_image_curves(net, dataset, batch_size: int = 128, max_images: int | None = None,
                      device: str | torch.device = "cpu", seeds: Sequence[int] = (0,),
                      method: str = "bagnet_full_image", prepare: Callable | None = None,
                      policy: str = "all_cells") -> pd.DataFrame:
    """A classifier of the whole image: one row, coverage 1, glimpses = its G x G cells (the
    BagNet: mean of all cells' logits; a full-image CNN: grid 1, one view)."""
    dev = resolve_device(device)
    net = net.to(dev).eval()
    acc = CurveAccumulator(1)
    _run_batches(dataset, batch_size, max_images, dev, 0, method,
                 lambda x, y: acc.add(_image_logits(net, x).unsqueeze(1), y, None), prepare)
    df = _finish(acc, method=method, policy=policy, seed=_seeds_for(policy, seeds)[0])
    df["glimpses"] = net.cfg.grid_size ** 2
    return df[RESULT_COLUMNS]


def _image_logits(model, images: torch.Tensor) -> torch.Tensor:
    out = model(images)
    return out["logits"] if isinstance(out, dict) else out.image_logits


@torch.no_grad()
def occlusion_curves(classifier, saccader, dataset, policies: Iterable[str] = OCCLUSION_POLICIES,
                     max_occluded: int = 12, batch_size: int = 128, max_images: int | None = None,
                     device: str | torch.device = "cpu", seeds: Sequence[int] = (0,), fill: float = 0.0,
                     classifier_name: str = "bagnet_full_image", prepare: Callable | None = None) -> pd.DataFrame:
    """Top-1/top-5 of a full-image ``classifier`` (a BagNet: mean of all cells) when the first k
    glimpse squares of each ``saccader`` policy (chosen on the intact image) are filled with ``fill``
    (0 = the data-set mean after normalization), k = 0 .. max_occluded. ``coverage`` is the
    occluded fraction of the image. Row k = 0 is the classifier on the intact images."""
    from saccader.models.policies import check_policy

    policies = [check_policy(p) for p in policies]
    dev = resolve_device(device)
    classifier = classifier.to(dev).eval()
    saccader = saccader.to(dev).eval()
    frames = []
    for p in policies:
        for seed in _seeds_for(p, seeds):
            acc = CurveAccumulator(max_occluded + 1)

            def step(images, labels, p=p, acc=acc):
                b, s = images.shape[0], images.shape[-1]
                logits, cov = [_image_logits(classifier, images)], [torch.zeros(b, device=images.device)]
                if max_occluded:
                    out = saccader(images, num_glimpses=max_occluded, policy=p, sample=False)
                    masks = box_masks(saccader_boxes(saccader, out.indices), s)  # (B, K, S, S)
                    for k in range(max_occluded):
                        m = masks[:, k, None]
                        logits.append(_image_logits(classifier, images.masked_fill(m, fill)))
                        cov.append(m.flatten(1).float().mean(1))
                acc.add(torch.stack(logits, 1), labels, torch.stack(cov, 1), cumulative=False)

            _run_batches(dataset, batch_size, max_images, dev, seed, f"occlusion/{p}", step, prepare)
            df = _finish(acc, classifier=classifier_name, policy=p, seed=seed)
            df["glimpses"] -= 1
            frames.append(df.rename(columns={"glimpses": "occluded"}))
    return pd.concat(frames, ignore_index=True)[OCCLUSION_COLUMNS]


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


def heldout_examples(preset: str = "tiny", num: int = 6, data_dir: str | None = None, stage: str = "policy",
                     first: int = 0) -> dict:
    """``num`` held-out images as the ``stage``'s model sees them: {"images" (normalized, B, 3, S, S),
    "labels" (B,), "display" (B, S, S, 3) in [0, 1], "names" (label names), "dataset"}."""
    from saccader.models import get_model_cfg
    from saccader.plotting import to_display

    check_preset(preset)
    _, cfg = planned_run(stage, preset, chain_overrides=_chain(data_dir))
    net_cfg = get_model_cfg(cfg.model)
    dataset = heldout_split(cfg, net_cfg, data_dir)
    idx = list(range(first, min(len(dataset), first + num)))
    if hasattr(dataset, "get_batch"):
        x, y = dataset.get_batch(idx)
    else:
        items = [dataset[i] for i in idx]
        x, y = torch.stack([a for a, _ in items]), torch.tensor([int(b) for _, b in items])
    prep = input_preparer(stage, net_cfg)
    if prep is not None:
        x = prep(x)
    names = class_names(dataset)
    label_names = [names[int(v)] if names else str(int(v)) for v in y]
    return {"images": x, "labels": torch.as_tensor(y).long(), "display": to_display(x, net_cfg.mean, net_cfg.std),
            "names": label_names, "class_names": names, "dataset": dataset}


@torch.no_grad()
def glimpse_boxes_of(net, images: torch.Tensor, num_glimpses: int = 6, policy: str = "learned",
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(boxes (B, T, 4) (y0, x0, y1, x1) in pixels of ``images``, predicted labels (B,)) of a
    Saccader under ``policy`` (argmax for the learned one) or of DRAM (its high-resolution squares)."""
    from saccader.models.dram import DRAM

    dev = next(net.parameters()).device
    images = images.to(dev)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        if isinstance(net, DRAM):
            out = net(images, num_glimpses=num_glimpses, sample=False)
            boxes = dram_boxes(out.locations, images.shape[-1], net.glimpse_size)
        else:
            out = net(images, num_glimpses=num_glimpses, policy=policy, sample=False)
            boxes = saccader_boxes(net, out.indices)
    return boxes.cpu(), out.logits.argmax(-1).cpu()


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


def training_seed_curves(preset: str, train_seeds: Sequence[int] = TRAINING_SEEDS, seeds: Sequence[int] = (0,),
                         max_images: int | None = None, device: str = "cpu", data_dir: str | None = None,
                         methods: dict | None = None, max_glimpses: int = 12,
                         batch_size: int | None = None) -> pd.DataFrame:
    """Curves (``SEED_COLUMNS``) of ``methods`` ({method: policies}, default :data:`SEED_METHODS`),
    each retrained once per training seed (missing runs are trained now)."""
    check_preset(preset)
    frames = [df.assign(train_seed=int(s)) for s in train_seeds
              for df in _method_curves(preset, dict(methods or SEED_METHODS), seeds, max_images, device, data_dir,
                                       max_glimpses, batch_size, train_seed=s)]
    return pd.concat(frames, ignore_index=True)[SEED_COLUMNS]


def occlusion_all(preset: str, seeds: Sequence[int] = (0,), max_images: int | None = None, device: str = "cpu",
                  data_dir: str | None = None, policies: Sequence[str] = OCCLUSION_POLICIES, max_occluded: int = 12,
                  batch_size: int | None = None,
                  classifiers: Sequence[str] = OCCLUSION_CLASSIFIERS) -> pd.DataFrame:
    """The occlusion analysis: each full-image classifier of ``classifiers`` (methods of
    :data:`FULL_IMAGE_METHODS`) on images occluded at the policy run's glimpses
    (``OCCLUSION_COLUMNS``)."""
    check_preset(preset)
    for name in classifiers:
        if name not in FULL_IMAGE_METHODS:
            raise ValueError(f"occlusion classifier {name!r} is not a full-image method; choose among "
                             f"{', '.join(FULL_IMAGE_METHODS)}")
    sacc, _ = trained_model("policy", preset, data_dir=data_dir, device=device)
    frames = []
    for name in classifiers:
        net, run = method_model(name, preset, data_dir, device)
        if net.cfg.input_size != sacc.cfg.input_size:
            raise ValueError(f"the {name} classifier takes {net.cfg.input_size} images but the Saccader "
                             f"{sacc.cfg.input_size}: the occluded squares must be chosen on the same images")
        dataset = heldout_split(run.config, net.cfg, data_dir)
        frames.append(occlusion_curves(net, sacc, dataset, policies, max_occluded, _batch_size(preset, batch_size),
                                       max_images, device, seeds, classifier_name=name,
                                       prepare=input_preparer(METHODS[name].stage, net.cfg)))
    return pd.concat(frames, ignore_index=True)[OCCLUSION_COLUMNS]


# ------------------------------------------------------------------------------------------------
# results files and their provenance
# ------------------------------------------------------------------------------------------------

def write_results(df: pd.DataFrame, preset: str, name: str, config: dict | None = None, seed: int | None = None,
                  root: Path | None = None, key: dict | None = None, device=None) -> Path:
    """Write a tidy result table ``data/results/<preset>/<name>.csv`` and its provenance
    ``<name>.json`` (git commit, environment, date, the settings, and the cache ``key``)."""
    from saccader.provenance import provenance

    out = Path(root or paths.results_dir()) / preset
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"{name}.csv"
    tmp = csv.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(csv)
    meta = {"name": name, "preset": preset, "rows": len(df), "config": config or {}, "key": key or {},
            **provenance(seed=seed, device=device)}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return csv


def read_results(preset: str, name: str, root: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """A result table and its provenance; a clear error when it was never produced."""
    base = Path(root or paths.results_dir()) / preset
    csv, meta = base / f"{name}.csv", base / f"{name}.json"
    if not csv.exists():
        raise FileNotFoundError(f"no results {name!r} for preset {preset!r} at {csv}; produce them with "
                                f"`python -m saccader evaluate --preset {preset}` (or the evaluation notebook)")
    return pd.read_csv(csv), (json.loads(meta.read_text()) if meta.exists() else {})


def evaluation_code_version() -> str:
    """Short hash of this file (how results are computed from the trained models)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def run_weights(run_dir: str | Path) -> str | None:
    """The checksum of a finished local run's weights (``checkpoint.weights_checksum``), or None
    when the run was not trained here. Read from its ``metrics.json`` (``model_sha256``), or
    computed from its checkpoint for runs that predate that entry."""
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.json"
    if not metrics.exists():
        return None
    try:
        sha = json.loads(metrics.read_text()).get("model_sha256")
    except (OSError, json.JSONDecodeError):
        sha = None
    if sha:
        return sha
    from saccader.train import checkpoint

    path = run_dir / checkpoint.CHECKPOINT_NAME
    return checkpoint.weights_checksum(checkpoint.load(path)["model"]) if path.exists() else None


def results_key(preset: str, runs: dict, settings: dict, data_dir: str | None = None) -> dict:
    """What a results file must match to be reused: code versions, run config hashes, settings,
    and the weights of the runs. ``runs``: {name: (stage, overrides[, train_seed])} of the runs
    the results come from; ``data_dir``: the ImageNet folder (needed to resolve the imagenet
    preset's configs; not part of the hashes). ``weights``: {name: checksum of the local run's
    weights, None when it is not trained here} (:func:`run_weights`)."""
    from saccader.train.cache import code_version

    hashes, weights = {}, {}
    for name, (stage, overrides, *seed) in runs.items():
        # the run's folder name: its stage and config hash, chained to the previous stage by name
        # (independent of where the runs folder lies)
        chain = _chain(data_dir, seed[0] if seed else None)
        run_dir, _ = planned_run(stage, preset, overrides, chain_overrides=chain)
        hashes[name] = run_dir.name
        weights[name] = run_weights(run_dir)
    return {"code_version": code_version(), "evaluation_code": evaluation_code_version(), "runs": hashes,
            "weights": weights, "settings": json.loads(json.dumps(settings, default=str))}


def stale_reasons(meta: dict, key: dict, weights: bool = True) -> list[str]:
    """Why a results file with provenance ``meta`` does not match ``key`` ([] when it matches).
    ``weights``: also compare the weights of the runs trained here (a run not trained here,
    checksum None, cannot differ); False checks only that the file belongs to this code, these
    run configs and settings."""
    have = meta.get("key")
    if not have:
        return ["its provenance has no cache key"]
    reasons = []
    for part in ("code_version", "evaluation_code"):
        if have.get(part) != key[part]:
            reasons.append(f"{part} changed ({have.get(part)} -> {key[part]})")
    for name, h in key["runs"].items():
        if have.get("runs", {}).get(name) != h:
            reasons.append(f"the {name} run differs (run {have.get('runs', {}).get(name)} -> {h})")
    for name, v in key["settings"].items():
        if have.get("settings", {}).get(name) != v:
            reasons.append(f"setting {name} differs ({have.get('settings', {}).get(name)!r} -> {v!r})")
    if weights:
        for name, sha in key.get("weights", {}).items():
            theirs = have.get("weights", {}).get(name)
            if sha is not None and theirs != sha:
                reasons.append(f"the local {name} run has other weights than the results were computed from "
                               f"({(theirs or 'not recorded')[:12]} -> {sha[:12]})")
    return reasons


COMMITTED, LOCAL = "committed", "local"


def cached_table(preset: str, name: str, key: Callable[[], dict] | dict, compute: Callable[[], pd.DataFrame],
                 force: bool = False, root: Path | None = None, device=None, verbose: bool = True,
                 local_root: Path | None = None, write: str = LOCAL, allow_dirty: bool = False) -> pd.DataFrame:
    """A result table, reused or recomputed.

    Two places can hold it: the committed results ``<root>/<preset>/<name>.csv`` (``data/results``,
    kept in git) and this machine's own ``<local_root>/<preset>/<name>.csv`` (``runs/results``, not
    kept). The first whose provenance matches ``key`` (code, run configs, settings and the weights
    of the runs trained here) is used. Otherwise the table is computed (training missing runs) and
    written with its key, to the local place (``write="local"``, what the book does) or to the
    committed one (``write="committed"``, what ``python -m saccader evaluate`` does). Every
    recomputation prints why. ``key``: the key, or a function that makes it (called again after
    computing, to record the weights of the runs just trained). The returned frame's ``attrs``
    say where it came from (``source``, ``path``, ``reasons`` the committed file was not used).
    Committed results are written only from a clean tree (their provenance names a commit that
    reproduces them): uncommitted changes under ``saccader/`` raise ``UserError`` before any
    computation, unless ``allow_dirty``."""
    make_key = key if callable(key) else (lambda: key)
    current = make_key()
    places = {COMMITTED: Path(root or paths.results_dir()), LOCAL: Path(local_root or paths.local_results_dir())}
    why, committed_reasons = ("forced" if force else None), []
    if not force:
        for source, base in places.items():
            path = base / preset / f"{name}.csv"
            if not path.exists():
                reasons = ["no results file yet"]
            else:
                df, meta = read_results(preset, name, base)
                reasons = stale_reasons(meta, current)
                if not reasons:
                    if verbose:
                        print(f"[saccader evaluate] using {paths.shown(path)} ({source}: {len(df)} rows, computed "
                              f"{meta.get('time')})", flush=True)
                    df.attrs.update(source=source, path=str(paths.shown(path)), reasons=committed_reasons)
                    return df
            if source == COMMITTED:
                committed_reasons = reasons
        why = "; ".join(committed_reasons)
    out_base = places[write]
    path = out_base / preset / f"{name}.csv"
    if write == COMMITTED and not allow_dirty:
        from saccader.provenance import git_dirty

        if git_dirty():
            from saccader.errors import UserError

            raise UserError(f"{paths.shown(path)} must be recomputed ({why}), but saccader/ has uncommitted changes: "
                            "commit them first, so that the results name a commit that reproduces them "
                            "(or pass --allow-dirty)")
    if verbose:
        print(f"[saccader evaluate] computing {paths.shown(path)}: {why}", flush=True)
    df = compute()
    final = make_key()
    write_results(df, preset, name, config=final["settings"], root=out_base, key=final, device=device)
    df.attrs.update(source=write, path=str(paths.shown(path)), reasons=committed_reasons)
    return df


def _runs_of(methods: Sequence[str]) -> dict:
    return {m: (METHODS[m].stage, METHODS[m].overrides) for m in methods}


def get_results(preset: str = "tiny", seeds: Sequence[int] = DEFAULT_SEEDS, max_images: int | None = None,
                device: str = "cpu", data_dir: str | None = None, max_glimpses: int = 12,
                methods: Sequence[str] | None = None, force: bool = False, root: Path | None = None,
                batch_size: int | None = None, local_root: Path | None = None, write: str = LOCAL,
                allow_dirty: bool = False) -> pd.DataFrame:
    """The curves table of ``preset`` (``data/results/<preset>/curves.csv``, or this machine's
    ``runs/results/<preset>/curves.csv``): reused when its provenance matches (code versions, run
    configs, settings, the weights of the runs trained here), else recomputed (training missing
    runs) and written (:func:`cached_table`)."""
    check_preset(preset)
    methods = list(methods or METHODS)
    for m in methods:
        check_method(m)
    settings = {"seeds": [int(s) for s in seeds], "max_images": max_images, "max_glimpses": int(max_glimpses),
                "methods": methods}
    key = lambda: results_key(preset, _runs_of(methods), settings, data_dir)  # noqa: E731
    return cached_table(preset, "curves", key, lambda: evaluate_all(
        preset, seeds, max_images, device, data_dir, methods, max_glimpses, batch_size), force, root,
        resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def get_occlusion(preset: str = "tiny", seeds: Sequence[int] = DEFAULT_SEEDS, max_images: int | None = None,
                  device: str = "cpu", data_dir: str | None = None, max_occluded: int = 12,
                  policies: Sequence[str] = OCCLUSION_POLICIES, force: bool = False, root: Path | None = None,
                  batch_size: int | None = None, classifiers: Sequence[str] = OCCLUSION_CLASSIFIERS,
                  local_root: Path | None = None, write: str = LOCAL, allow_dirty: bool = False) -> pd.DataFrame:
    """The occlusion table of ``preset`` (``data/results/<preset>/occlusion.csv``), cached like
    :func:`get_results`."""
    check_preset(preset)
    classifiers = list(classifiers)
    settings = {"seeds": [int(s) for s in seeds], "max_images": max_images, "max_occluded": int(max_occluded),
                "policies": list(policies), "classifiers": classifiers}
    key = lambda: results_key(preset, {"policy": ("policy", {}), **_runs_of(classifiers)}, settings, data_dir)  # noqa: E731
    return cached_table(preset, "occlusion", key, lambda: occlusion_all(
        preset, seeds, max_images, device, data_dir, policies, max_occluded, batch_size, classifiers), force, root,
        resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def get_training_seeds(preset: str = "tiny", train_seeds: Sequence[int] = TRAINING_SEEDS,
                       seeds: Sequence[int] = (0,), max_images: int | None = None, device: str = "cpu",
                       data_dir: str | None = None, max_glimpses: int = 12, force: bool = False,
                       root: Path | None = None, batch_size: int | None = None, local_root: Path | None = None,
                       write: str = LOCAL, allow_dirty: bool = False) -> pd.DataFrame:
    """The training-seed table of ``preset`` (``data/results/<preset>/training_seeds.csv``): the
    methods of :data:`SEED_METHODS` retrained with each of ``train_seeds``, cached like
    :func:`get_results`. ``seeds``: evaluation seeds of the random policy."""
    check_preset(preset)
    train_seeds = [int(s) for s in train_seeds]
    if not train_seeds:
        raise ValueError("train_seeds is empty: give at least one training seed, e.g. (0, 1, 2)")
    settings = {"train_seeds": train_seeds, "seeds": [int(s) for s in seeds], "max_images": max_images,
                "max_glimpses": int(max_glimpses), "methods": {m: list(p) for m, p in SEED_METHODS.items()}}
    runs = {f"{m}@seed{s}": (METHODS[m].stage, METHODS[m].overrides, s) for s in train_seeds for m in SEED_METHODS}
    key = lambda: results_key(preset, runs, settings, data_dir)  # noqa: E731
    return cached_table(preset, "training_seeds", key, lambda: training_seed_curves(
        preset, train_seeds, seeds, max_images, device, data_dir, SEED_METHODS, max_glimpses, batch_size),
        force, root, resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def seed_spread(df: pd.DataFrame, glimpses: Sequence[int] = (1, 6, 12)) -> pd.DataFrame:
    """Per (method, policy, glimpses) of a training-seed table: top-1 / top-5 / coverage mean, sd
    (ddof 1), min and max over training seeds (each seed's value first averaged over evaluation
    seeds), and ``runs``, the number of training seeds. Full-image rows are kept whatever their
    glimpses."""
    full = df.method.isin(FULL_IMAGE_METHODS)
    sel = df[df.glimpses.isin(list(glimpses)) | full]
    per_run = (sel.groupby(["method", "policy", "glimpses", "train_seed"], sort=False)[["top1", "top5", "coverage"]]
               .mean().reset_index())
    g = per_run.groupby(["method", "policy", "glimpses"], sort=False)
    return g.agg(top1=("top1", "mean"), top1_sd=("top1", "std"), top1_min=("top1", "min"), top1_max=("top1", "max"),
                 top5=("top5", "mean"), top5_sd=("top5", "std"), coverage=("coverage", "mean"),
                 runs=("train_seed", "nunique")).reset_index()


def available_results(name: str = "curves", presets: Sequence[str] = PRESETS, root: Path | None = None) -> dict:
    """{preset: table} of the results files ``name`` present for each preset (no computation)."""
    out = {}
    for preset in presets:
        if (Path(root or paths.results_dir()) / preset / f"{name}.csv").exists():
            out[preset] = read_results(preset, name, root)[0]
    return out


def at_glimpses(df: pd.DataFrame, glimpses: int = 6) -> pd.DataFrame:
    """One row per (method, policy) at ``glimpses`` (the full-image reference at all cells), the
    metrics averaged over seeds (``seeds``: how many)."""
    full = df.method.isin(FULL_IMAGE_METHODS)
    sel = df[(df.glimpses == glimpses) | full]
    out = (sel.groupby(["method", "policy"], sort=False)
           .agg(glimpses=("glimpses", "first"), top1=("top1", "mean"), top5=("top5", "mean"),
                coverage=("coverage", "mean"), images=("images", "first"), seeds=("seed", "nunique"))
           .reset_index())
    return out


def summary(df: pd.DataFrame, glimpses: Sequence[int] = (1, 6, 12), coverage_at: int = 6) -> pd.DataFrame:
    """Wide table: one row per (method, policy), top-1 (mean over seeds) at each of ``glimpses``
    and the coverage at ``coverage_at`` (the full-image reference at every column)."""
    out = None
    for t in glimpses:
        at = at_glimpses(df, t)[["method", "policy", "top1"]].rename(columns={"top1": f"top1 @{t}"})
        out = at if out is None else out.merge(at, on=["method", "policy"], how="left", sort=False)
    cov = at_glimpses(df, coverage_at)[["method", "policy", "coverage"]]
    return out.merge(cov.rename(columns={"coverage": f"coverage @{coverage_at}"}), on=["method", "policy"],
                     how="left", sort=False)


def committed_comparison(df: pd.DataFrame, preset: str, glimpses: Sequence[int] = (1, 6, 12),
                         sd_factor: float = 2.0, root: Path | None = None) -> pd.DataFrame | None:
    """How a curves table computed from this machine's runs (``df.attrs["source"] == "local"``)
    compares with the committed one: top-1 (mean over evaluation seeds) of both at ``glimpses``,
    the difference, the sd over training runs of the committed training-seed study (where it
    covers the method) and whether the difference lies within ``sd_factor`` sd. None when ``df``
    is the committed table or no committed table exists."""
    if df.attrs.get("source") != LOCAL:
        return None
    try:
        committed, _ = read_results(preset, "curves", root)
    except FileNotFoundError:
        return None
    try:
        spread = seed_spread(read_results(preset, "training_seeds", root)[0], glimpses)
    except FileNotFoundError:
        spread = pd.DataFrame(columns=["method", "policy", "glimpses", "top1_sd"])
    rows = []
    for t in glimpses:
        ours = at_glimpses(df, t)[["method", "policy", "top1"]]
        theirs = at_glimpses(committed, t)[["method", "policy", "glimpses", "top1"]]
        both = theirs.merge(ours, on=["method", "policy"], suffixes=("_committed", "_local"), sort=False)
        both["at"] = t
        rows.append(both)
    out = pd.concat(rows, ignore_index=True)
    sd = spread.set_index(["method", "policy", "glimpses"])["top1_sd"]
    out["training_sd"] = [sd.get((m, p, g), float("nan")) for m, p, g in zip(out.method, out.policy, out.glimpses)]
    out["difference"] = out.top1_local - out.top1_committed
    out["verdict"] = [
        "no spread measured" if not sd_ == sd_ else
        (f"within {sd_factor:g} sd" if abs(d) <= sd_factor * sd_ else f"outside {sd_factor:g} sd")
        for d, sd_ in zip(out.difference, out.training_sd)]
    return out[["method", "policy", "at", "top1_committed", "top1_local", "difference", "training_sd", "verdict"]]


def source_note(df: pd.DataFrame) -> str:
    """One paragraph (Markdown) saying where a table from :func:`cached_table` comes from: the
    committed results, or this machine's runs (and why the committed ones were not used)."""
    source, path = df.attrs.get("source"), df.attrs.get("path", "?")
    if source == COMMITTED:
        return (f"These numbers are the committed results (`{path}`): the runs trained on this machine, where "
                "there are any, have the same weights as those they were computed from.")
    if source == LOCAL:
        why = "; ".join(df.attrs.get("reasons") or []) or "no committed results"
        return (f"These numbers are computed from this machine's own runs (`{path}`), not taken from the committed "
                f"results, because: {why}. Training is bit-for-bit reproducible only with the same code, thread "
                "count and kind of processor; on another machine the same configuration trains other weights, "
                "whose numbers differ by about the spread over training runs.")
    return ""


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------

def check_arguments(preset: str, what: Sequence[str], seeds: Sequence[int], max_images: int | None, device: str,
                    data_dir: str | None, max_glimpses: int, max_occluded: int, batch_size: int | None,
                    train_seeds: Sequence[int]) -> None:
    """The command line's arguments, checked before any model is trained or evaluated: a bad one
    raises ``ConfigError`` (one line, exit status 2)."""
    from saccader.train.config import ConfigError, check_device, check_min

    if preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r} is not a preset; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(what) - {"curves", "occlusion", "training_seeds"})
    if unknown:
        raise ConfigError(f"--what {' '.join(unknown)}: unknown; choose among curves, occlusion, training_seeds")
    check_device(device, flag="--device")
    check_min("--max-images", max_images, 1, 1000)
    check_min("--max-glimpses", max_glimpses, 1, 12)
    check_min("--max-occluded", max_occluded, 0, 12)
    check_min("--batch-size", batch_size, 1, 128)
    for flag, values in (("--seeds", seeds), ("--train-seeds", train_seeds)):
        if not values:
            raise ConfigError(f"{flag}: give at least one seed, e.g. {flag} 0 1 2")
        for v in values:
            check_min(flag, v, 0, 0)
    if preset == "imagenet":
        if not data_dir:
            raise ConfigError("preset 'imagenet' needs the ILSVRC-2012 folder: pass --data-dir /path/to/imagenet")
        from saccader.data.imagenet import resolve_split_dir

        try:
            resolve_split_dir(data_dir, "val")
        except (OSError, ValueError) as err:
            raise ConfigError(f"--data-dir {data_dir}: {err}") from None


def main(preset: str = "tiny", what: Sequence[str] = ("curves", "occlusion"), seeds: Sequence[int] = DEFAULT_SEEDS,
         max_images: int | None = None, device: str = "cpu", data_dir: str | None = None, max_glimpses: int = 12,
         max_occluded: int = 12, force: bool = False, batch_size: int | None = None,
         train_seeds: Sequence[int] = TRAINING_SEEDS, allow_dirty: bool = False) -> int:
    """The command line: the results of record, written to ``data/results/<preset>/`` (from a
    clean tree unless ``allow_dirty``)."""
    check_arguments(preset, what, seeds, max_images, device, data_dir, max_glimpses, max_occluded, batch_size,
                    train_seeds)
    record = {"write": COMMITTED, "allow_dirty": allow_dirty}
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        if "curves" in what:
            df = get_results(preset, seeds, max_images, device, data_dir, max_glimpses, force=force,
                             batch_size=batch_size, **record)
            print(at_glimpses(df, 6).round(3).to_string(index=False))
        if "occlusion" in what:
            occ = get_occlusion(preset, seeds, max_images, device, data_dir, max_occluded, force=force,
                                batch_size=batch_size, **record)
            table = occ.groupby(["classifier", "policy", "occluded"]).top1.mean().unstack("occluded")
            print(table.round(2).to_string())
        if "training_seeds" in what:
            ts = get_training_seeds(preset, train_seeds, seeds[:1], max_images, device, data_dir, max_glimpses,
                                    force=force, batch_size=batch_size, **record)
            print(seed_spread(ts, (1, 6, max_glimpses)).round(2).to_string(index=False))
    return 0


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="accuracy against glimpses and coverage for every method, and the occlusion analysis",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", choices=PRESETS)
    p.add_argument("--what", nargs="+", default=["curves", "occlusion"],
                   choices=["curves", "occlusion", "training_seeds"],
                   help="training_seeds retrains the Saccader chain once per --train-seeds (not by default)")
    p.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS),
                   help="seeds of the random policy (default: 0 1 2; training_seeds uses the first)")
    p.add_argument("--train-seeds", nargs="+", type=int, default=list(TRAINING_SEEDS),
                   help="training seeds of --what training_seeds (default: 0 1 2)")
    p.add_argument("--max-images", type=int, help="evaluate on the first N held-out images only")
    p.add_argument("--max-glimpses", type=int, default=12, help="curves for 1..N glimpses (default 12)")
    p.add_argument("--max-occluded", type=int, default=12, help="occlusion for 0..K glimpses (default 12)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    p.add_argument("--data-dir", help="ILSVRC-2012 root (imagenet preset)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--force", action="store_true", help="recompute even when the results files match")
    p.add_argument("--allow-dirty", action="store_true",
                   help="write results although saccader/ has uncommitted changes (their provenance says so)")
    p.set_defaults(func=lambda a: main(a.preset, a.what, a.seeds, a.max_images, a.device, a.data_dir,
                                       a.max_glimpses, a.max_occluded, a.force, a.batch_size, a.train_seeds,
                                       a.allow_dirty))
