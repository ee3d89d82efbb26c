"""The generated data set "clutter" (its previous default kind "object" here; the default kind "parts"
in test_parts.py): determinism, content, validation, cache."""
from __future__ import annotations

import argparse
import hashlib

import numpy as np
import pytest
import torch

from saccader.data import build_dataset
from saccader.data.synthetic import (
    CHUNK, ClutterConfig, ClutterDataset, cache_file, class_masks, describe, generate)

CFG = ClutterConfig(kind="object")


@pytest.fixture(scope="module")
def train300():
    return generate(CFG, "train", 300)


def test_defaults_keep_the_paper_glimpse_ratio():
    assert CFG.image_size == 96 and CFG.glimpse_size == 33
    assert abs(CFG.glimpse_size ** 2 / CFG.image_size ** 2 - 77 ** 2 / 224 ** 2) < 0.005
    assert CFG.object_size <= CFG.glimpse_size  # one glimpse can hold the whole object


def test_same_config_and_split_give_identical_bytes(train300):
    again = generate(CFG, "train", 300)
    for key in train300:
        assert np.array_equal(train300[key], again[key]), key


def test_image_i_does_not_depend_on_num_images(train300):
    short = generate(CFG, "train", 37)
    assert np.array_equal(short["images"], train300["images"][:37])
    assert np.array_equal(short["labels"], train300["labels"][:37])


def test_generator_fingerprint():
    """Cached files are keyed by GENERATOR_VERSION: if this fails after a change to the generator,
    bump GENERATOR_VERSION in saccader/data/synthetic.py and update the numbers here."""
    d = generate(CFG, "val", 8)
    blob = b"".join(d[k].tobytes() for k in
                    ("labels", "object_boxes", "distractor_boxes", "distractor_ids"))
    assert hashlib.sha256(blob).hexdigest()[:16] == "8aeb99ff341e3250"
    assert abs(d["images"].mean() - 127.6555) < 0.01  # float rounding may move a few pixels


def test_splits_and_seeds_differ(train300):
    val = generate(CFG, "val", 300)
    other_seed = generate(CFG.replace(seed=1), "train", 300)
    for other in (val, other_seed):
        assert not np.array_equal(other["images"], train300["images"])
        assert (other["images"] != train300["images"]).mean() > 0.5
    # no image is shared between train and val
    tr = train300["images"].reshape(300, -1)
    va = val["images"].reshape(300, -1)
    assert not any((tr == v).all(1).any() for v in va[:50])


def test_labels_in_range_and_balanced():
    d = generate(CFG, "train", 2 * CHUNK)
    labels = d["labels"]
    assert labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < CFG.num_classes
    counts = np.bincount(labels, minlength=CFG.num_classes)
    assert counts.min() >= len(labels) // CFG.num_classes - 1
    assert counts.max() <= len(labels) // CFG.num_classes + 2


def test_arrays_have_documented_shapes(train300):
    d = train300
    n, h, s = 300, CFG.image_size, CFG.object_size
    assert d["images"].shape == (n, 3, h, h) and d["images"].dtype == np.uint8
    assert d["object_boxes"].shape == (n, 4)
    assert d["distractor_boxes"].shape == (n, CFG.num_distractors, 4)
    assert d["distractor_ids"].shape == (n, CFG.num_distractors, 2)
    assert d["images"].std() > 20  # not blank


def test_object_boxes_inside_image_and_of_configured_size(train300):
    b = train300["object_boxes"]
    assert (b[:, :2] >= 0).all() and (b[:, 2:] <= CFG.image_size).all()
    assert ((b[:, 2] - b[:, 0]) == CFG.object_size).all()
    assert ((b[:, 3] - b[:, 1]) == CFG.object_size).all()
    # positions vary over the whole image
    assert b[:, 0].min() < 10 and b[:, 0].max() > CFG.image_size - CFG.object_size - 10


def test_distractors_never_overlap_the_object_and_are_wrong_pairs(train300):
    o = train300["object_boxes"][:, None]
    d = train300["distractor_boxes"]
    overlap = ((d[..., 0] < o[..., 2]) & (d[..., 2] > o[..., 0])
               & (d[..., 1] < o[..., 3]) & (d[..., 3] > o[..., 1]))
    assert not overlap.any()
    shape, colour = train300["distractor_ids"][..., 0], train300["distractor_ids"][..., 1]
    assert (colour != shape % 12).all()  # no distractor is a valid class (shape k in colour k)


def test_shapes_have_equal_ink_area():
    areas = class_masks(CFG.num_classes, CFG.object_size).mean((1, 2))
    assert areas.max() - areas.min() < 0.08
    masks = class_masks(CFG.num_classes, CFG.object_size) > 0.5
    flat = masks.reshape(CFG.num_classes, -1)
    assert len({m.tobytes() for m in flat}) == CFG.num_classes  # all shapes distinct


def _crops(d, where: str, rng, g: int = 33):
    ims = d["images"].astype(np.float32) / 255
    n, h = len(ims), ims.shape[-1]
    if where == "object":
        centre = (d["object_boxes"][:, :2] + d["object_boxes"][:, 2:]) // 2
        xy = np.clip(centre - g // 2, 0, h - g)
    else:
        xy = rng.integers(0, h - g + 1, (n, 2))
    return np.stack([ims[i, :, y:y + g, x:x + g] for i, (x, y) in enumerate(xy)]).reshape(n, -1)


def _nearest_centroid(xtr, ytr, xte, yte, c):
    cent = np.stack([xtr[ytr == k].mean(0) for k in range(c)])
    d2 = (xte ** 2).sum(1)[:, None] - 2 * xte @ cent.T + (cent ** 2).sum(1)[None]
    return float((d2.argmin(1) == yte).mean())


def test_the_object_region_carries_the_class():
    tr, te = generate(CFG, "train", 600), generate(CFG, "val", 300)
    rng = np.random.default_rng(0)
    acc = {w: _nearest_centroid(_crops(tr, w, rng), tr["labels"], _crops(te, w, rng),
                                te["labels"], CFG.num_classes) for w in ("object", "random")}
    assert acc["object"] > 0.8, acc
    assert acc["random"] < 0.3, acc  # chance is 0.1


def test_global_colour_histogram_is_weak():
    """Every decoy class's colour and shape are in the image once, like the true class's."""
    tr, te = generate(CFG, "train", 1000), generate(CFG, "val", 300)

    def hist(d):
        q = (d["images"] // 64).astype(np.int64)
        idx = q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2]
        return np.stack([np.bincount(i.ravel(), minlength=64) for i in idx]) / idx[0].size

    acc = _nearest_centroid(hist(tr), tr["labels"], hist(te), te["labels"], CFG.num_classes)
    assert acc < 0.3, acc


@pytest.mark.parametrize("changes, words", [
    (dict(object_size=120), "object_size"),
    (dict(num_classes=1), "num_classes"),
    (dict(image_size=4), "image_size"),
    (dict(fragment_size=0.0), "fragment_size"),
    (dict(background_strength=1.5), "background_strength"),
    (dict(num_distractors=-1), "num_distractors"),
    (dict(noise_std=-0.1), "noise_std"),
    (dict(seed=-3), "seed"),
    (dict(object_size=22.5), "integer"),
])
def test_invalid_configs_are_rejected_with_a_clear_message(changes, words):
    with pytest.raises(ValueError, match=words):
        ClutterConfig(**changes)


def test_invalid_split_and_num_images(tmp_path):
    with pytest.raises(ValueError, match="split"):
        ClutterDataset(CFG, "holdout", 10, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="num_images"):
        ClutterDataset(CFG, "val", 0, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown ClutterConfig field"):
        ClutterConfig.from_overrides({"colour": "red"})


def test_overrides_from_strings():
    cfg = ClutterConfig.from_overrides({"kind": "object", "image_size": "64", "object_size": "16", "noise_std": "0"})
    assert (cfg.image_size, cfg.object_size, cfg.noise_std) == (64, 16, 0.0)
    with pytest.raises(ValueError, match="image_size"):
        ClutterConfig.from_overrides({"image_size": "big"})


def test_other_sizes_and_many_classes():
    cfg = ClutterConfig(kind="object", image_size=64, object_size=16, num_classes=20, num_distractors=6, seed=3)
    d = generate(cfg, "test", 50)
    assert d["images"].shape == (50, 3, 64, 64)
    assert d["labels"].max() < 20
    shape, colour = d["distractor_ids"][..., 0], d["distractor_ids"][..., 1]
    assert (colour != shape % 12).all()
    two = generate(ClutterConfig(kind="object", num_classes=2), "val", 20)  # too few classes for decoy cycles
    assert set(np.unique(two["labels"])) == {0, 1}


def test_cache_round_trip(tmp_path):
    first = ClutterDataset(CFG, "val", 40, cache_dir=tmp_path)
    assert not first.from_cache and first.cache_path.exists()
    assert first.cache_path == cache_file(CFG, "val", 40, tmp_path)
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left over
    assert first.cache_path.stat().st_mode & 0o044  # readable by others, like any data file
    second = ClutterDataset(CFG, "val", 40, cache_dir=tmp_path)
    assert second.from_cache and second.cache_path == first.cache_path
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.object_boxes, second.object_boxes)
    # a prefix is read from a larger cached file
    third = ClutterDataset(CFG, "val", 25, cache_dir=tmp_path)
    assert third.from_cache and torch.equal(third.images, first.images[:25])
    # a changed parameter gives another file
    changed = ClutterDataset(CFG.replace(noise_std=0.0), "val", 40, cache_dir=tmp_path)
    assert not changed.from_cache and changed.cache_path != first.cache_path
    assert len(list(tmp_path.glob("*.npz"))) == 2
    # no cache at all
    mem = ClutterDataset(CFG, "val", 40, use_cache=False)
    assert mem.cache_path is None and torch.equal(mem.images, first.images)


def test_corrupt_cache_file_is_regenerated(tmp_path):
    path = cache_file(CFG, "val", 10, tmp_path)
    path.write_bytes(b"broken")
    ds = ClutterDataset(CFG, "val", 10, cache_dir=tmp_path)
    assert not ds.from_cache and ds.images.shape == (10, 3, 96, 96)
    assert ClutterDataset(CFG, "val", 10, cache_dir=tmp_path).from_cache


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SACCADER_CACHE", str(tmp_path))
    ds = ClutterDataset(CFG, "test", 5)
    assert ds.cache_path.parent == tmp_path / "clutter"


def test_dataset_items_and_batches(tmp_path):
    ds = ClutterDataset(CFG, "val", 64, cache_dir=tmp_path)
    x, y = ds[3]
    assert x.shape == (3, 96, 96) and x.dtype == torch.float32 and isinstance(y, int)
    assert y == int(ds.labels[3])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert torch.allclose(x * std + mean, ds.images[3].float() / 255, atol=1e-5)
    raw = ClutterDataset(CFG, "val", 64, cache_dir=tmp_path, normalize=False)
    assert 0 <= raw[3][0].min() and raw[3][0].max() <= 1
    xb, yb = ds.get_batch([0, 5, 7])
    assert xb.shape == (3, 3, 96, 96) and yb.dtype == torch.int64
    assert torch.equal(yb, ds.labels[[0, 5, 7]])
    loader = torch.utils.data.DataLoader(ds, batch_size=16)
    xl, yl = next(iter(loader))
    assert xl.shape == (16, 3, 96, 96) and yl.dtype == torch.int64
    assert len(ds.class_names) == 10 and ds.class_names[0] == "red disk"


def test_augment_flips_some_images(tmp_path):
    ds = ClutterDataset(CFG, "val", 32, cache_dir=tmp_path, augment=True, normalize=False)
    g = torch.Generator().manual_seed(0)
    x, _ = ds.get_batch(range(32), generator=g)
    plain = ds.images[:32].float() / 255
    flipped = torch.tensor([torch.equal(a, b.flip(-1)) for a, b in zip(x, plain)])
    same = torch.tensor([torch.equal(a, b) for a, b in zip(x, plain)])
    assert flipped.any() and same.any() and (flipped | same).all()


def test_describe(tmp_path):
    ds = ClutterDataset(CFG, "val", 100, cache_dir=tmp_path)
    info = describe(ds)
    table, summary = info["per_class"], info["summary"]
    assert table["count"].sum() == 100 and len(table) == 10
    assert abs(table["fraction"].sum() - 1) < 1e-9
    assert summary["boxes_inside_image"] and summary["box_width_mean"] == CFG.object_size
    assert abs(summary["glimpse_area_fraction"] - 33 ** 2 / 96 ** 2) < 1e-12
    assert info["config"]["image_size"] == 96


def test_build_dataset(tmp_path):
    ds = build_dataset("clutter", "val", num_images=20, cache_dir=tmp_path, seed=5, noise_std=0.0)
    assert isinstance(ds, ClutterDataset) and ds.cfg.seed == 5 and ds.cfg.noise_std == 0.0
    assert ds.cfg.kind == "parts"  # the default kind
    assert not ds.augment
    assert build_dataset("clutter", "train", num_images=20, cache_dir=tmp_path).augment
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("mnist", "train")
    with pytest.raises(ValueError, match="--data-dir"):
        build_dataset("imagenet", "val")


def test_cli_clutter(tmp_path, capsys):
    from saccader.data import cli

    parser = argparse.ArgumentParser()
    cli.add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "clutter", "--num-images", "30", "--split", "val",
                              "--cache-dir", str(tmp_path), "--set", "seed=2", "--set", "kind=object"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "30 images" in out and "red disk" in out
    assert len(list(tmp_path.glob("*.npz"))) == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "clutter", "--set", "seed"])
