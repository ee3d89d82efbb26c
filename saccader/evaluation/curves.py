"""Accuracy and coverage against the number of glimpses of one model on a held-out split (SPEC 4).

For every policy here the glimpse at step ``t`` does not depend on how many glimpses will be
allowed, so one unroll to ``max_glimpses`` gives every point of a curve. Each point is
``(glimpses, coverage, top-1, top-5)`` averaged over the held-out images, where coverage is the
area of the union of the glimpse squares over the image area (overlaps count once, SPEC 4).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from saccader.data.subsets import stratified_indices

RESULT_COLUMNS = ["method", "policy", "glimpses", "coverage", "top1", "top5", "images", "seed"]
STOCHASTIC_POLICIES = frozenset({"random"})


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


def batches(dataset, batch_size: int, max_images: int | None = None,
            num_workers: int | None = None) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic batches of ``max_images`` images of a held-out split (vectorised ``get_batch``
    when the data set has it): the first ones, or on a labelled folder data set every class in
    proportion (``stratified_indices``, seed 0). Under DDP each rank gets images rank, rank + W, ...
    ``num_workers``: image-decoding processes of a data set without ``get_batch`` (default one per
    two cores, 4 at most; 0 reads in this process)."""
    n = len(dataset) if max_images is None else min(len(dataset), int(max_images))
    labels = _targets(dataset) if n < len(dataset) else None
    idx = stratified_indices(labels, n, seed=0) if labels is not None else list(range(n))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        idx = idx[torch.distributed.get_rank()::torch.distributed.get_world_size()]
    if hasattr(dataset, "get_batch"):
        for start in range(0, len(idx), batch_size):
            x, y = dataset.get_batch(idx[start:start + batch_size])
            yield x, torch.as_tensor(y).long()
        return
    subset = torch.utils.data.Subset(dataset, idx)
    # image decoding beside the model's threads: one worker per two cores (4 at most)
    workers = min(4, max(1, (os.cpu_count() or 2) // 2)) if num_workers is None else int(num_workers)
    for x, y in torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=workers):
        yield x, torch.as_tensor(y).long()


def _targets(dataset) -> list[int] | None:
    """The labels of a folder data set (through the engine's ``Subset``), or None."""
    if isinstance(dataset, torch.utils.data.Subset):
        inner = _targets(dataset.dataset)
        return None if inner is None else [inner[i] for i in dataset.indices]
    targets = getattr(dataset, "targets", None)
    return None if targets is None else list(targets)


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
                prepare: Callable | None = None, policy: str = "learned") -> pd.DataFrame:
    """DRAM's accuracy after each glimpse (its own readout: the last step's logits, or their running
    mean if the model predicts with the mean) and the union of its high-resolution squares.
    ``policy``: its learned locations (the emitted means), or "random" (uniform, once per seed) or
    "center" locations read by the same trained classifier."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    cumulative = getattr(model, "prediction", "last") == "mean"
    frames = []
    for seed in _seeds_for(policy, seeds):
        acc = CurveAccumulator(max_glimpses)

        def step(images, labels):
            out = model(images, num_glimpses=max_glimpses, sample=False, policy=policy)
            boxes = dram_boxes(out.locations, images.shape[-1], model.glimpse_size)
            acc.add(out.step_logits, labels, box_coverage(boxes, images.shape[-1]), cumulative=cumulative)

        _run_batches(dataset, batch_size, max_images, dev, seed, f"{method} {policy}", step, prepare)
        frames.append(_finish(acc, method=method, policy=policy, seed=seed)[RESULT_COLUMNS])
    return pd.concat(frames, ignore_index=True)


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
