"""Data sets: the embedded default "clutter" (procedural, no download) and ImageNet ILSVRC-2012.

``build_dataset(name, split, **kw)`` gives either one by name.
"""
from __future__ import annotations

DATASETS = ("clutter", "imagenet")


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
    raise ValueError(f"unknown dataset {name!r}; known: {list(DATASETS)}")


__all__ = ["DATASETS", "build_dataset"]
