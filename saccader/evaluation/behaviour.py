"""The behaviour of a trained run on its held-out split, for the stage chapters of the book: a
BagNet's accuracy per location, the location network against its targets, a Saccader's accuracy
against glimpses under each policy, the Saccader-ClassNet's, and what DRAM does at test time.

    from saccader import evaluation
    net = evaluation.load_net(run)                 # the trained module of a RunResult, in eval mode
    data = evaluation.eval_split(run.config)       # the held-out split it was evaluated on
    evaluation.glimpse_accuracy(net, data, ("learned", "random"))
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import torch


# ------------------------------------------------------------------------------------------------
# the trained model and its held-out data
# ------------------------------------------------------------------------------------------------

def load_net(run, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The trained module of a run (``RunResult``), in eval mode on ``device``."""
    from saccader.train import checkpoint
    from saccader.train.stages import get_stage

    cfg = run.config
    net = get_stage(cfg.stage).build(cfg, load=False)
    state, _, _ = checkpoint.model_state(run.checkpoint)
    net.load_state_dict(state)
    return net.to(device).eval()


def eval_split(cfg, split: str | None = None):
    """The split a run was evaluated on (default its test split, else its eval split), prepared as
    the run's model expects (the config's ``max_eval_images`` applies)."""
    from saccader.models import get_model_cfg
    from saccader.train.engine import build_split

    split = split or cfg.test_split or cfg.eval_split
    return build_split(cfg, split, get_model_cfg(cfg.model), train=False)


def batches(dataset, batch_size: int = 100, max_images: int | None = None, device="cpu"):
    """(images, labels) batches of a held-out split on ``device``: the batches the results tables
    are computed from (:func:`saccader.evaluation.curves.batches`: the first ``max_images`` images,
    or on a labelled folder data set every class in proportion), read in this process."""
    from saccader.evaluation.curves import batches as heldout_batches

    for x, y in heldout_batches(dataset, batch_size, max_images, num_workers=0):
        yield x.to(device), y.to(device)


# ------------------------------------------------------------------------------------------------
# behaviour of trained models
# ------------------------------------------------------------------------------------------------

@torch.no_grad()
def per_location_accuracy(bagnet, dataset, batch_size: int = 100, max_images: int | None = None,
                          device="cpu") -> dict:
    """A BagNet's accuracy on the full image (mean logits) and of every cell alone.

    Returns ``{"full_image": float, "per_location": float, "map": (G, G) array, "best_cell": float,
    "images": n}``; ``map[i, j]`` is the accuracy of cell (i, j)'s logits alone."""
    bagnet = bagnet.to(device).eval()
    full, cells, n = 0.0, None, 0
    for x, y in batches(dataset, batch_size, max_images, device):
        out = bagnet(x)
        full += float((out["logits"].argmax(-1) == y).sum())
        hit = (out["logits2d"].argmax(1) == y[:, None, None]).float().sum(0)
        cells = hit if cells is None else cells + hit
        n += len(y)
    m = (cells / n).cpu().numpy()
    return {"full_image": full / n, "per_location": float(m.mean()), "map": m, "best_cell": float(m.max()),
            "images": n}


@torch.no_grad()
def location_target_match(saccader, dataset, num_glimpses: int = 12, batch_size: int = 100,
                          max_images: int | None = None, device="cpu") -> pd.DataFrame:
    """Per step t: how often the Saccader's chosen cell (argmax, visited cells masked) is the t-th
    best cell of the ordered-logits target (the predicted class's logit map, SPEC 3.2), and how
    often it is among the first T targets at all. One row per step."""
    from saccader.models.policies import ordered_targets

    saccader = saccader.to(device).eval()
    exact = torch.zeros(num_glimpses)
    within = torch.zeros(num_glimpses)
    n = 0
    for x, y in batches(dataset, batch_size, max_images, device):
        out = saccader(x, num_glimpses=num_glimpses, policy="learned")
        targets = ordered_targets(out.logits2d.float(), num_glimpses)
        exact += (out.indices == targets).float().sum(0).cpu()
        within += (out.indices[:, :, None] == targets[:, None, :]).any(-1).float().sum(0).cpu()
        n += len(y)
    return pd.DataFrame({"step": np.arange(1, num_glimpses + 1), "target_match": (exact / n).numpy(),
                         "in_target_set": (within / n).numpy(), "images": n})


@torch.no_grad()
def glimpse_accuracy(saccader, dataset, policies: Iterable[str] = ("learned", "random", "ordered_logits"),
                     max_glimpses: int = 12, batch_size: int = 100, max_images: int | None = None,
                     device="cpu", seed: int = 0) -> pd.DataFrame:
    """Top-1 accuracy of a Saccader after 1..``max_glimpses`` glimpses for each policy (the
    prediction after T glimpses averages the first T step logits). Long format:
    ``policy, glimpses, accuracy, images``."""
    saccader = saccader.to(device).eval()
    rows = []
    for policy in policies:
        torch.manual_seed(seed)
        correct = torch.zeros(max_glimpses)
        n = 0
        for x, y in batches(dataset, batch_size, max_images, device):
            out = saccader(x, num_glimpses=max_glimpses, policy=policy)
            cum = out.step_logits.float().cumsum(1)  # mean = cumsum / t: same argmax
            correct += (cum.argmax(-1) == y[:, None]).float().sum(0).cpu()
            n += len(y)
        for t in range(max_glimpses):
            rows.append({"policy": policy, "glimpses": t + 1, "accuracy": float(correct[t] / n), "images": n})
    return pd.DataFrame(rows)


def runs_glimpse_accuracy(runs: dict, dataset, max_glimpses: int = 12, batch_size: int = 100,
                          max_images: int | None = None, device="cpu", seed: int = 0) -> pd.DataFrame:
    """:func:`glimpse_accuracy` of several trained runs on one split, each loaded in turn:
    ``runs`` {name: (RunResult, policies)}. Long format ``policy, glimpses, accuracy, images, model``
    (``model``: the name)."""
    frames = []
    for name, (run, policies) in runs.items():
        net = load_net(run, device)
        frames.append(glimpse_accuracy(net, dataset, policies, max_glimpses, batch_size, max_images, device, seed)
                      .assign(model=name))
        del net
    return pd.concat(frames, ignore_index=True)


@torch.no_grad()
def classnet_glimpse_accuracy(net, dataset, max_glimpses: int = 6, batch_size: int = 50,
                              max_images: int | None = None, device="cpu") -> pd.DataFrame:
    """Top-1 accuracy of a Saccader-ClassNet after 1..``max_glimpses`` glimpses (its classifier's
    logits averaged over the first T glimpses), with the same images fed as in training (upsampled
    to the ClassNet's input when smaller). Columns ``glimpses, accuracy, images``."""
    from saccader.train.stages import _classnet_call

    net = net.to(device).eval()
    correct = torch.zeros(max_glimpses)
    n = 0
    for x, y in batches(dataset, batch_size, max_images, device):
        out = _classnet_call(net, net, x, max_glimpses)
        correct += (out.step_logits.float().cumsum(1).argmax(-1) == y[:, None]).float().sum(0).cpu()
        n += len(y)
    return pd.DataFrame({"glimpses": np.arange(1, max_glimpses + 1), "accuracy": (correct / n).numpy(), "images": n})


@torch.no_grad()
def dram_behaviour(dram, dataset, max_glimpses: int = 12, batch_size: int = 100, max_images: int | None = None,
                   device="cpu") -> tuple[pd.DataFrame, np.ndarray]:
    """DRAM at test time (mean locations): accuracy of each step's logits and of their running
    mean after 1..``max_glimpses`` glimpses, with the mean distance moved between glimpses; and the
    (N, T, 2) normalized (y, x) locations it glimpsed."""
    dram = dram.to(device).eval()
    last = torch.zeros(max_glimpses)
    mean = torch.zeros(max_glimpses)
    locs = []
    n = 0
    for x, y in batches(dataset, batch_size, max_images, device):
        out = dram(x, num_glimpses=max_glimpses)
        step = out.step_logits.float()
        last += (step.argmax(-1) == y[:, None]).float().sum(0).cpu()
        mean += (step.cumsum(1).argmax(-1) == y[:, None]).float().sum(0).cpu()
        locs.append(out.locations.float().cpu())
        n += len(y)
    loc = torch.cat(locs).numpy()
    moved = np.r_[np.nan, np.linalg.norm(np.diff(loc, axis=1), axis=-1).mean(0)]
    df = pd.DataFrame({"glimpses": np.arange(1, max_glimpses + 1), "acc_step_logits": (last / n).numpy(),
                       "acc_mean_logits": (mean / n).numpy(), "mean_move": moved, "images": n})
    return df, loc


__all__ = ["load_net", "eval_split", "batches", "per_location_accuracy", "location_target_match", "glimpse_accuracy",
           "runs_glimpse_accuracy", "classnet_glimpse_accuracy", "dram_behaviour"]
