"""The occlusion analysis (SPEC 5.2): a full-image classifier (``OCCLUSION_CLASSIFIERS``: the BagNet
of the representation run, and the standard CNN of the fullimage run, which shares no weights
with the Saccader) classifies the held-out images with the first ``k`` glimpse squares proposed
by a policy of the Saccader filled with 0, the data-set mean after normalization;
``k = 0 .. max_occluded``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd
import torch

from saccader.evaluation.curves import (
    CurveAccumulator,
    _finish,
    _image_logits,
    _run_batches,
    _seeds_for,
    box_masks,
    resolve_device,
    saccader_boxes,
)
from saccader.evaluation.methods import (
    DEFAULT_SEEDS,
    FULL_IMAGE_METHODS,
    METHODS,
    _batch_size,
    check_preset,
    heldout_split,
    input_preparer,
    method_model,
    trained_model,
)
from saccader.evaluation.results import LOCAL, _runs_of, cached_table, results_key

OCCLUSION_COLUMNS = ["classifier", "policy", "occluded", "coverage", "top1", "top5", "images", "seed"]
OCCLUSION_POLICIES = ("learned", "ordered_logits", "random", "sobel_mean", "sobel_var")
OCCLUSION_CLASSIFIERS = FULL_IMAGE_METHODS


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
    key = lambda: results_key(  # noqa: E731
        preset, {"policy": ("policy", {}), **_runs_of(classifiers)}, settings, data_dir, __name__)
    return cached_table(preset, "occlusion", key, lambda: occlusion_all(
        preset, seeds, max_images, device, data_dir, policies, max_occluded, batch_size, classifiers), force, root,
        resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)
