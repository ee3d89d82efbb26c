"""Imagenette and other ImageNet-subset folders: labels of the subset and their ILSVRC-2012 indices,
the official download layouts, stratified subsets, the command line, and the real photographs of
``../shared/data/imagenette`` where that folder exists."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from imagenet_tree import write_imagenet_tree
from saccader import paths
from saccader.data import build_dataset
from saccader.data import imagenette as inet
from saccader.models import get_model_cfg
from saccader.train.batches import build_split
from saccader.train.config import ConfigError
from saccader.train.presets import resolve_config

# the ILSVRC-2012 class index (0-based, the sorted synset list) of the 10 Imagenette classes, as
# every ImageNet-1k model's label list has them (tench 0, ..., parachute 701)
OFFICIAL = {"n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
            "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701}
SHARED = Path(os.environ.get("SACCADER_IMAGENETTE", paths.REPO_ROOT.parent / "shared" / "data" / "imagenette"))


def test_known_wnids_have_their_official_index():
    assert len(inet.ilsvrc_wnids()) == 1000 and set(inet.IMAGENETTE_WNIDS) == set(OFFICIAL)
    for wnid, index in OFFICIAL.items():
        assert inet.ilsvrc_index(wnid, label_offset=0) == index
        assert inet.ilsvrc_index(wnid) == index + 1  # the official 1001-class labels
    assert inet.class_name("n01440764") == "tench" and inet.class_name("n02102040") == "English springer"
    with pytest.raises(ValueError, match="not one of the 1,000 ILSVRC-2012 wnids"):
        inet.ilsvrc_index("n03888605x")


@pytest.mark.parametrize("layout", ["folder", "imagenette2-160"])
def test_subset_labels_and_their_ilsvrc_indices(tmp_path, layout):
    wnids = ("n03888257", "n01440764", "n02102040")  # any order on disk: labels follow the sorted wnids
    root = tmp_path / "data"
    write_imagenet_tree(root if layout == "folder" else root / layout, wnids=wnids, images_per_class=2,
                        sizes=((48, 40),))
    ds = build_dataset("imagenette", "val", data_dir=str(root), image_size=32, crop_fraction=1.0)
    assert ds.classes == sorted(wnids) and sorted(set(ds.targets)) == [0, 1, 2]
    assert ds.ilsvrc_indices == [OFFICIAL[w] + 1 for w in sorted(wnids)]
    assert ds.class_names == ["tench", "English springer", "parachute"]
    image, label = ds[0]
    assert tuple(image.shape) == (3, 32, 32) and label == 0
    offset = build_dataset("imagenette", "val", data_dir=str(root), image_size=32, label_offset=1)
    assert sorted(set(offset.targets)) == [1, 2, 3] and offset.ilsvrc_indices[0] is None


def test_download_folders_and_bad_folders_are_named(tmp_path):
    for name in ("imagenette2-320", "imagenette2-160"):
        write_imagenet_tree(tmp_path / "dl" / name, wnids=("n01440764",), images_per_class=1, sizes=((40, 40),))
    with pytest.raises(ValueError, match="several Imagenette downloads"):
        inet.resolve_root(tmp_path / "dl")
    assert inet.resolve_root(tmp_path / "dl", size="160") == tmp_path / "dl" / "imagenette2-160"
    with pytest.raises(FileNotFoundError, match="--download"):
        inet.resolve_root(tmp_path / "missing")
    write_imagenet_tree(tmp_path / "odd", wnids=("n01440764", "not_a_wnid"), images_per_class=1, sizes=((40, 40),))
    with pytest.raises(ValueError, match="not_a_wnid are not ILSVRC-2012 wnids"):
        build_dataset("imagenette", "train", data_dir=str(tmp_path / "odd"), image_size=32)


def test_config_trains_on_a_subset_with_every_class_in_the_limit(tmp_path):
    root = write_imagenet_tree(tmp_path / "tree", wnids=inet.IMAGENETTE_WNIDS[:4], images_per_class=5,
                               sizes=((40, 40),))
    cfg = resolve_config("representation", "tiny", data_dir=str(root),
                         overrides={"dataset": "imagenette", "dataset_kwargs": {"image_size": 96},
                                    "max_train_images": 8, "max_eval_images": 4})
    train = build_split(cfg, "train", get_model_cfg("bagnet33_tiny"), train=True)
    assert len(train) == 8 and sorted(Counter(train.dataset.targets[i] for i in train.indices).values()) == [2, 2, 2, 2]
    with pytest.raises(ConfigError, match="imagenette data set needs its folder"):
        resolve_config("representation", "tiny", overrides={"dataset": "imagenette"})
    with pytest.raises(ConfigError, match="no keyword 'kind'"):
        resolve_config("representation", "tiny", data_dir=str(root),
                       overrides={"dataset": "imagenette", "dataset_kwargs": {"kind": "parts"}})


def test_command_line_prints_the_classes(tmp_path):
    root = write_imagenet_tree(tmp_path / "tree", wnids=("n02102040", "n01440764"), images_per_class=2,
                               sizes=((40, 40),))
    cmd = [sys.executable, "-m", "saccader", "data", "imagenette", "--root", str(root)]
    out = subprocess.run(cmd + ["--json"], capture_output=True, text=True, cwd=paths.REPO_ROOT)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["classes"]
    assert [(r["wnid"], r["ilsvrc_index"], r["train"], r["val"]) for r in rows] == [
        ("n01440764", 1, 2, 2), ("n02102040", 218, 2, 2)]
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "nothing")], capture_output=True, text=True, cwd=paths.REPO_ROOT)
    assert bad.returncode == 2 and "--download" in bad.stderr


@pytest.mark.skipif(not (SHARED / "val").is_dir(), reason=f"no Imagenette copy at {SHARED} (set SACCADER_IMAGENETTE)")
def test_the_real_imagenette_copy():
    ds = build_dataset("imagenette", "val", data_dir=str(SHARED), image_size=96, crop_fraction=1.0)
    assert ds.classes == list(inet.IMAGENETTE_WNIDS) and len(ds) == 3925
    assert ds.ilsvrc_indices == [OFFICIAL[w] + 1 for w in inet.IMAGENETTE_WNIDS]
    image, label = ds[len(ds) - 1]
    assert tuple(image.shape) == (3, 96, 96) and label == 9
