"""ImageNet folder loader and the paper's transforms, on a tiny tree of JPEGs written per test."""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import warnings

import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from imagenet_tree import (
    BROKEN_LINKS, WNIDS, write_broken_link, write_corrupt_jpeg, write_imagenet_tree, write_jpeg)
from saccader.data import build_dataset
from saccader.data.imagenet import BrokenLinkError, CorruptImageError, ImageNetFolder, check_tree
from saccader.data.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, InceptionCrop, default_crop_fraction, eval_crop_box,
    eval_transform, train_transform)


@pytest.fixture
def tree(tmp_path):
    return write_imagenet_tree(tmp_path / "imagenet")


def test_labels_follow_sorted_wnids_plus_offset(tree):
    ds = ImageNetFolder(tree, "train")
    assert ds.classes == sorted(WNIDS) and len(ds) == 9
    assert ds.num_classes == 4 and ds.label_offset == 1
    for path, label in ds.samples:
        wnid = path.split("/")[-2]
        assert label == sorted(WNIDS).index(wnid) + 1
    zero = ImageNetFolder(tree, "val", label_offset=0)
    assert sorted(set(zero.targets)) == [0, 1, 2] and zero.num_classes == 3
    img, label = zero[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB"  # greyscale JPEG converted
    assert label == 0


def test_transform_output_shapes(tree):
    train = build_dataset("imagenet", "train", data_dir=tree)
    val = build_dataset("imagenet", "val", data_dir=tree)
    for ds in (train, val):
        for i in range(len(ds)):
            x, y = ds[i]
            assert x.shape == (3, 224, 224) and x.dtype == torch.float32
            assert 1 <= y <= 3
    big = build_dataset("imagenet", "val", data_dir=tree, image_size=331)
    assert big[0][0].shape == (3, 331, 331)


def test_eval_crop_fraction(tmp_path):
    assert default_crop_fraction(224) == 224 / 246
    assert default_crop_fraction(331) == 331 / 364
    x0, y0, x1, y1 = eval_crop_box(400, 300, 224)
    side = int(224 / 246 * 300)
    assert (x1 - x0, y1 - y0) == (side, side) == (273, 273)
    assert (x0, y0) == ((400 - side + 1) // 2, (300 - side + 1) // 2)
    # the transform is exactly: central crop of that box, bicubic resize, standardize
    img = Image.open(write_jpeg(tmp_path / "a.JPEG", 400, 300, seed=7)).convert("RGB")
    out = eval_transform(224, resize="pil")(img)
    ref = img.crop((x0, y0, x1, y1)).resize((224, 224), Image.BICUBIC)
    ref = TF.normalize(TF.to_tensor(ref), IMAGENET_MEAN, IMAGENET_STD)
    assert torch.allclose(out, ref, atol=1e-6)
    # default: the official TF1 resize_bicubic on the float crop (no antialiasing)
    from saccader.data.tf_resize import tf1_resize
    out = eval_transform(224)(img)
    ref = tf1_resize(TF.to_tensor(img.crop((x0, y0, x1, y1)))[None], 224, "bicubic")[0]
    assert torch.allclose(out, TF.normalize(ref, IMAGENET_MEAN, IMAGENET_STD), atol=1e-6)


def test_train_crop_statistics():
    random.seed(0)
    crop = InceptionCrop(224)
    fractions, ratios = [], []
    for _ in range(300):
        top, left, h, w = crop.get_params(400, 300)
        assert 0 <= top and top + h <= 300 and 0 <= left and left + w <= 400
        fractions.append(h * w / (400 * 300))
        ratios.append(w / h)
    assert min(fractions) >= 0.095 and max(fractions) <= 1.0
    assert min(ratios) > 0.7 and max(ratios) < 1.4
    # an impossible request falls back to the whole image
    assert InceptionCrop(8, scale=(0.99, 1.0), ratio=(3.0, 3.0)).get_params(50, 50) == (0, 0, 50, 50)
    t = train_transform(64)
    assert t(Image.new("RGB", (90, 70))).shape == (3, 64, 64)


def test_missing_root_and_split(tmp_path, tree):
    with pytest.raises(FileNotFoundError, match="does not exist.*--data-dir"):
        ImageNetFolder(tmp_path / "nowhere", "train")
    shutil.rmtree(tree / "val")
    with pytest.raises(FileNotFoundError, match=r"val is missing.*train"):
        ImageNetFolder(tree, "val")
    with pytest.raises(ValueError, match="split"):
        ImageNetFolder(tree, "holdout")
    with pytest.raises(ValueError, match="--data-dir"):
        build_dataset("imagenet", "train")


def test_no_class_folders(tmp_path):
    split = tmp_path / "root" / "val"
    write_jpeg(split / "ILSVRC2012_val_00000001.JPEG", 32, 32)
    with pytest.raises(FileNotFoundError, match="no class folders.*sort them"):
        ImageNetFolder(tmp_path / "root", "val")


def test_empty_class_folder(tree):
    empty = tree / "train" / "n09999999"
    empty.mkdir()
    (tree / "val" / "n09999999").mkdir()
    with pytest.raises(FileNotFoundError, match="n09999999 has no images"):
        ImageNetFolder(tree, "train")


def test_class_sets_must_match_between_splits(tree):
    shutil.rmtree(tree / "val" / WNIDS[1])
    with pytest.raises(ValueError, match="differ"):
        ImageNetFolder(tree, "val")
    ds = ImageNetFolder(tree, "val", classes=[WNIDS[0], WNIDS[2]])  # explicit mapping is allowed
    assert sorted(set(ds.targets)) == [1, 2]


@pytest.mark.parametrize("verify", ["header", "full"])
def test_corrupt_jpeg_skipped_and_counted_at_scan(tree, verify):
    bad = write_corrupt_jpeg(tree / "train" / WNIDS[1] / "broken.JPEG", "garbage")
    with pytest.warns(UserWarning, match="skipped 1 unreadable.*broken.JPEG"):
        ds = ImageNetFolder(tree, "train", verify=verify, on_corrupt="skip")
    assert ds.num_skipped == 1 and len(ds) == 9 and ds.skipped_paths == [str(bad)]
    assert str(bad) not in [p for p, _ in ds.samples]


def test_truncated_jpeg_found_by_full_check(tree):
    bad = write_corrupt_jpeg(tree / "val" / WNIDS[2] / "cut.JPEG", "truncated")
    with pytest.raises(CorruptImageError, match="cut.JPEG"):
        ImageNetFolder(tree, "val", verify="full", on_corrupt="raise")


def test_corrupt_jpeg_lazy_skip_keeps_labels_right(tree):
    bad = write_corrupt_jpeg(tree / "train" / WNIDS[0] / "n01440764_zz.JPEG", "garbage")
    ds = ImageNetFolder(tree, "train", on_corrupt="skip")  # verify="lazy"
    i = [p for p, _ in ds.samples].index(str(bad))
    assert len(ds) == 10
    with pytest.warns(UserWarning, match="n01440764_zz.JPEG"):
        img, label = ds[i]
    # the next sample (first image of the next class) comes back with its own label
    assert label == ds.samples[i + 1][1] == 2 and img.mode == "RGB"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds[i]  # already known: skipped again without a new warning
    assert ds.num_skipped == 1 and ds.skipped_paths == [str(bad)]


def test_corrupt_jpeg_raise_names_the_file(tree):
    bad = write_corrupt_jpeg(tree / "val" / WNIDS[0] / "zz_bad.JPEG", "garbage")
    with pytest.raises(CorruptImageError, match="zz_bad.JPEG"):
        ImageNetFolder(tree, "val", verify="header", on_corrupt="raise")
    ds = ImageNetFolder(tree, "val", on_corrupt="raise")
    i = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(CorruptImageError, match="zz_bad.JPEG.*on_corrupt='skip'"):
        ds[i]


def test_bad_arguments(tree):
    with pytest.raises(ValueError, match="on_corrupt"):
        ImageNetFolder(tree, "train", on_corrupt="ignore")
    with pytest.raises(ValueError, match="verify"):
        ImageNetFolder(tree, "train", verify="maybe")


def test_check_tree_and_cli(tree, capsys):
    write_corrupt_jpeg(tree / "val" / WNIDS[0] / "bad.JPEG", "truncated")
    report = check_tree(tree)
    assert report["splits"]["train"]["images"] == 9 and report["splits"]["train"]["corrupt"] == []
    assert report["splits"]["val"]["images"] == 9
    assert report["splits"]["val"]["corrupt"][0].endswith("bad.JPEG")

    from saccader.data import cli

    parser = argparse.ArgumentParser()
    cli.add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "check-imagenet", "--data-dir", str(tree)])
    assert args.func(args) == 1  # an unreadable file was found
    out = capsys.readouterr().out
    assert "3 classes, 9 readable images" in out and "bad.JPEG" in out
    from saccader.cli import main  # a missing root is a bad input: one line, exit 2 (tests/test_bad_inputs.py)

    assert main(["data", "check-imagenet", "--data-dir", str(tree / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# broken symlinks: loops, links to an ancestor folder, dangling links (issue 13 item 5)
# ------------------------------------------------------------------------------------------------

_KINDS = sorted(BROKEN_LINKS)


@pytest.mark.parametrize("kind", _KINDS)
def test_broken_link_raise_names_the_link_and_the_fix(tree, kind):
    link = write_broken_link(tree, kind)
    with pytest.raises(BrokenLinkError, match=re.escape(str(link)) + r".*(loop|dangling).*on_corrupt='skip'"):
        ImageNetFolder(tree, "train", on_corrupt="raise")
    assert issubclass(BrokenLinkError, CorruptImageError)
    ImageNetFolder(tree, "val", on_corrupt="raise")  # the other split is fine


@pytest.mark.parametrize("kind", _KINDS)
def test_broken_link_skipped_counted_and_warned(tree, kind):
    link = write_broken_link(tree, kind)
    with pytest.warns(UserWarning, match=r"skipped 1 broken symlinks.*" + re.escape(str(link))):
        ds = ImageNetFolder(tree, "train", on_corrupt="skip", verify="header")
    assert [p for p, _ in ds.bad_links] == [str(link)] and ds.num_skipped == 1
    assert re.search("loop|dangling", ds.bad_links[0][1])
    # nothing else changes: the same classes, labels and images as without the link
    assert ds.classes == sorted(WNIDS) and len(ds) == 9 and ds.skipped_paths == []
    assert sorted(set(ds.targets)) == [1, 2, 3] and str(link) not in [p for p, _ in ds.samples]


@pytest.mark.parametrize("kind", _KINDS)
def test_broken_link_in_check_tree_and_cli(tree, kind, capsys):
    link = write_broken_link(tree, kind)
    report = check_tree(tree, verify="header")
    train = report["splits"]["train"]
    assert [b["path"] for b in train["bad_links"]] == [str(link)] and train["images"] == 9
    assert re.search("loop|dangling", train["bad_links"][0]["problem"])
    assert report["splits"]["val"]["bad_links"] == []

    from saccader.cli import main

    assert main(["data", "check-imagenet", "--data-dir", str(tree), "--verify", "header"]) == 1
    captured = capsys.readouterr()
    assert f"broken symlink: {link}" in captured.out and "Traceback" not in captured.err
    assert main(["data", "check-imagenet", "--data-dir", str(tree), "--split", "val"]) == 0  # val is fine
    main(["data", "check-imagenet", "--data-dir", str(tree), "--json"])
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["splits"]["train"]["bad_links"][0]["path"] == str(link)


def test_looping_link_in_place_of_a_class_folder(tree, capsys):
    """A class folder replaced by a loop is not a class: the class sets of the splits then differ,
    an error that names the link, in both splits and in check-imagenet."""
    shutil.rmtree(tree / "train" / WNIDS[1])
    link = tree / "train" / WNIDS[1]
    os.symlink(WNIDS[1], link)
    with pytest.raises(BrokenLinkError, match=re.escape(str(link))):
        ImageNetFolder(tree, "train", on_corrupt="raise")
    for split in ("train", "val"):
        with pytest.raises(ValueError, match=r"differ.*" + re.escape(str(link)) + ".*loop"):
            ImageNetFolder(tree, split, on_corrupt="skip")
    report = check_tree(tree, verify="header")
    assert all(str(link) in report["splits"][s]["error"] for s in ("train", "val"))

    from saccader.cli import main

    assert main(["data", "check-imagenet", "--data-dir", str(tree)]) == 1
    assert str(link) in capsys.readouterr().out


def test_split_folder_that_is_a_looping_link(tree, capsys):
    shutil.rmtree(tree / "val")
    os.symlink("val", tree / "val")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tree / "val")) + ".*broken symlink"):
        ImageNetFolder(tree, "val")
    ImageNetFolder(tree, "train")  # the loop where val should be does not break train

    from saccader.cli import main

    assert main(["data", "check-imagenet", "--data-dir", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "train: 3 classes, 9 readable images" in out and f"{tree / 'val'} is a broken symlink" in out


def test_good_symlinks_are_used(tree, tmp_path):
    """Links that resolve (an image, a class folder stored elsewhere) are ordinary entries."""
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(tree / "train" / WNIDS[2]), elsewhere)
    os.symlink(elsewhere, tree / "train" / WNIDS[2])
    os.symlink(f"{WNIDS[0]}_1.JPEG", tree / "train" / WNIDS[0] / "alias.JPEG")
    os.symlink("../" + WNIDS[2], tree / "train" / WNIDS[0] / "sibling")  # a folder link, not an image
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = ImageNetFolder(tree, "train", on_corrupt="raise", verify="full")
    assert ds.bad_links == [] and len(ds) == 10 and ds.classes == sorted(WNIDS)
