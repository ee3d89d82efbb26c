"""Imagenette (fast.ai): 10 ILSVRC-2012 classes, real photographs in the ImageNet folder layout.

Any folder ``<root>/{train,val}/<wnid>/*.JPEG`` whose class folders are ILSVRC-2012 wnids is read
the same way: the official downloads (``imagenette2``, ``imagenette2-320``, ``imagenette2-160``,
aspect ratio kept), a squashed 224 x 224 copy, or another subset of the 1,000 classes.

Labels are explicit. The training head uses the subset's own classes, ``0..K-1`` over the sorted
wnids (``label_offset`` added, 0 by default), and every class also carries its ILSVRC-2012 index
(``ilsvrc_index``: position in the official sorted synset list, plus 1 for the official code's
1001-class labels with a background slot 0), so that a 1,000-class model can be read on the subset.
The synset list is the one timm ships (``timm/data/_info/imagenet_synsets.txt``), so no download is
needed to map labels.

Users with internet get the data with ``python -m saccader data imagenette --root DIR --download``
(``torchvision.datasets.Imagenette``: the official URL and checksum); offline, pass the folder
with ``--data-dir``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

IMAGENETTE_WNIDS = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042",
                    "n03425413", "n03445777", "n03888257")
# size -> (torchvision's size argument, the folder its download creates under the root)
SIZES = {"full": ("full", "imagenette2"), "320": ("320px", "imagenette2-320"), "160": ("160px", "imagenette2-160")}


@lru_cache(maxsize=1)
def ilsvrc_wnids() -> tuple[str, ...]:
    """The 1,000 ILSVRC-2012 wnids in the official (sorted) order of the class indices."""
    from importlib import resources

    text = resources.files("timm.data").joinpath("_info/imagenet_synsets.txt").read_text()
    wnids = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(wnids) != 1000 or list(wnids) != sorted(wnids):
        raise RuntimeError(f"timm's imagenet_synsets.txt holds {len(wnids)} wnids, not the 1,000 sorted ILSVRC ones")
    return wnids


@lru_cache(maxsize=1)
def _lemmas() -> dict[str, str]:
    from importlib import resources

    text = resources.files("timm.data").joinpath("_info/imagenet_synset_to_lemma.txt").read_text()
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


@lru_cache(maxsize=1)
def _ilsvrc_positions() -> dict[str, int]:
    return {w: i for i, w in enumerate(ilsvrc_wnids())}


def ilsvrc_index(wnid: str, label_offset: int = 1) -> int:
    """The ILSVRC-2012 class index of ``wnid`` plus ``label_offset`` (1: the official 1001-class
    labels, tench n01440764 -> 1; 0: the usual 1,000-class labels)."""
    index = _ilsvrc_positions()
    if wnid not in index:
        raise ValueError(f"{wnid!r} is not one of the 1,000 ILSVRC-2012 wnids (class folders must be named by wnid, "
                         "e.g. n01440764)")
    return index[wnid] + label_offset


def class_name(wnid: str) -> str:
    """The first lemma of ``wnid`` ("tench" for n01440764)."""
    return _lemmas().get(wnid, wnid).split(",")[0].strip()


def resolve_root(data_dir, size: str | None = None) -> Path:
    """The folder holding ``train/`` and ``val/``: ``data_dir`` itself, or the one download folder
    (``imagenette2``, ``imagenette2-320``, ``imagenette2-160``; ``size`` picks among several) that
    ``torchvision.datasets.Imagenette`` made under it."""
    root = Path(data_dir).expanduser()
    if (root / "train").is_dir() or (root / "val").is_dir():
        return root
    if size is not None and size not in SIZES:
        raise ValueError(f"unknown Imagenette size {size!r}; choose one of {', '.join(SIZES)}")
    names = [SIZES[size][1]] if size else [folder for _, folder in SIZES.values()]
    found = [root / n for n in names if (root / n / "train").is_dir() or (root / n / "val").is_dir()]
    if len(found) == 1:
        return found[0]
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder. Get Imagenette with `python -m saccader data imagenette "
                                f"--root {root} --download`, or pass the folder that holds train/ and val/")
    if found:
        raise ValueError(f"{root} holds several Imagenette downloads ({', '.join(p.name for p in found)}): pass one of "
                         "them, or the size (full, 320, 160)")
    raise FileNotFoundError(f"{root} holds neither train/ and val/ nor an Imagenette download folder "
                            f"({', '.join(f for _, f in SIZES.values())})")


def build_imagenette(split: str, data_dir=None, label_offset: int = 0, size: str | None = None, **kw):
    """``build_imagenet`` (the paper's preprocessing; same keywords) on an ImageNet-layout subset
    folder, with the subset's own labels (``label_offset`` 0 by default) and, on the data set,
    ``ilsvrc_indices`` (label -> ILSVRC-2012 index with the 1001-class offset) and ``class_names``."""
    from saccader.data.imagenet import build_imagenet

    if data_dir is None:
        raise ValueError("the imagenette data set needs its folder: pass --data-dir DIR (holding train/ and val/), "
                         "or get it with `python -m saccader data imagenette --root DIR --download`")
    ds = build_imagenet(split, resolve_root(data_dir, size), label_offset=label_offset, **kw)
    unknown = [w for w in ds.classes if w not in _ilsvrc_positions()]
    if unknown:
        raise ValueError(f"{ds.split_dir}: class folders {', '.join(unknown[:5])} are not ILSVRC-2012 wnids; an "
                         "ImageNet subset names its class folders by wnid (e.g. n01440764)")
    ds.ilsvrc_indices = [None] * label_offset + [ilsvrc_index(w) for w in ds.classes]
    ds.class_names = ["background"] * label_offset + [class_name(w) for w in ds.classes]
    return ds


def download(root, size: str = "320") -> Path:
    """Download and extract Imagenette (``size``: full, 320 or 160) with
    ``torchvision.datasets.Imagenette`` (the official URL and MD5) into ``root``; return the folder
    holding train/ and val/."""
    from torchvision.datasets import Imagenette

    if size not in SIZES:
        raise ValueError(f"unknown Imagenette size {size!r}; choose one of {', '.join(SIZES)}")
    arg, folder = SIZES[size]
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    Imagenette(str(root), split="train", size=arg, download=True)
    Imagenette(str(root), split="val", size=arg, download=False)
    return root / folder


__all__ = ["IMAGENETTE_WNIDS", "SIZES", "build_imagenette", "class_name", "download", "ilsvrc_index", "ilsvrc_wnids",
           "resolve_root"]
