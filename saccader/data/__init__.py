"""Data sets: the embedded default "clutter" (procedural, no download), ImageNet ILSVRC-2012 and
"imagenette" (any ImageNet-layout folder of a subset of its classes, e.g. fast.ai's Imagenette).

``build_dataset(name, split, **kw)`` gives either one by name.
"""
from __future__ import annotations

DATASETS = ("clutter", "imagenet", "imagenette")


def build_dataset(name: str, split: str, **kw):
    """Dataset by name.

    ``"clutter"``: ``ClutterDataset``. Keywords: ``num_images``, ``cache_dir``, ``use_cache``,
    ``normalize``, ``mean``, ``std``, ``augment`` (default: True for the train split), ``cfg`` (a
    ``ClutterConfig``) and/or any ``ClutterConfig`` field (``image_size=..., seed=...``) to
    override it.

    ``"imagenet"``: ``ImageNetFolder`` on ``data_dir``/``split`` (required). Keywords: ``data_dir``,
    ``image_size`` (224), ``transform`` (default: the paper's train transform for "train", the eval
    transform otherwise), ``crop_fraction``, ``label_offset`` (1 = official 1001-class labels),
    ``on_corrupt``, ``verify``, ``mean``, ``std``, ``crop`` ("tf" = official
    sample_distorted_bounding_box, default | "torchvision"), ``resize`` ("tf1" = official float
    bicubic without antialiasing, default | "pil").

    ``"imagenette"``: the same on a folder of a subset of the ILSVRC-2012 classes, labelled
    ``0..K-1`` by the subset's sorted wnids (``label_offset`` 0 by default), each class with its
    ILSVRC-2012 index (``ilsvrc_indices``); ``data_dir`` may also be the folder that
    ``torchvision.datasets.Imagenette`` downloaded into (``size``: full, 320 or 160 picks one).
    """
    if name == "clutter":
        from saccader.data.synthetic import ClutterConfig, ClutterDataset
        import dataclasses

        fields = {f.name for f in dataclasses.fields(ClutterConfig)}
        overrides = {k: kw.pop(k) for k in list(kw) if k in fields}
        cfg = kw.pop("cfg", None) or ClutterConfig()
        cfg = ClutterConfig.from_overrides(overrides, base=cfg)
        kw.setdefault("augment", split == "train")
        return ClutterDataset(cfg, split, **kw)
    if name == "imagenet":
        from saccader.data.imagenet import build_imagenet

        return build_imagenet(split, **kw)
    if name == "imagenette":
        from saccader.data.imagenette import build_imagenette

        return build_imagenette(split, **kw)
    raise ValueError(f"unknown dataset {name!r}; known: {list(DATASETS)}")


__all__ = ["DATASETS", "build_dataset"]
