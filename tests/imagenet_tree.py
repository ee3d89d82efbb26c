"""Write a tiny ImageNet-format tree of JPEGs for tests: ``root/<split>/<wnid>/*.JPEG``.

    from imagenet_tree import write_imagenet_tree
    root = write_imagenet_tree(tmp_path)      # 3 classes x 3 images in train/ and val/
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

WNIDS = ("n01440764", "n01443537", "n01484850")
# (width, height): landscape, portrait, square, small and larger than 224
SIZES = ((96, 64), (60, 100), (250, 250), (320, 240), (80, 80))


def write_jpeg(path, width: int, height: int, seed: int = 0, mode: str = "RGB",
               quality: int = 90) -> Path:
    """A smooth random colour image (so JPEG keeps it small) saved as JPEG at ``path``."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(low, "RGB").resize((width, height), Image.BILINEAR)
    if mode != "RGB":
        img = img.convert(mode)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="JPEG", quality=quality)
    return path


def write_corrupt_jpeg(path, kind: str = "garbage") -> Path:
    """An unreadable ``.JPEG``: "garbage" (not an image at all) or "truncated" (valid header, cut
    off in the middle of the data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(b"this is not a jpeg" * 10)
    elif kind == "truncated":
        write_jpeg(path, 200, 150, seed=123)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        raise ValueError(f"kind must be 'garbage' or 'truncated', got {kind!r}")
    return path


# kind -> (where, link name, target): the broken symlinks ``write_broken_link`` can make
BROKEN_LINKS = {
    "image_loop": ("class", "loop.JPEG", "loop.JPEG"),          # an image linking to itself
    "dir_to_itself": ("class", "again", "."),                     # a folder link to its own folder
    "dir_to_ancestor": ("class", "up", "../.."),                  # a folder link to the tree's root
    "class_loop": ("split", "n09999999", "n09999999"),            # a class folder linking to itself
    "class_to_split": ("split", "n09999998", "."),                # a class folder linking to its split
    "dangling_image": ("class", "gone.JPEG", "missing/gone.JPEG"),
    "dangling_class": ("split", "n09999997", "/nonexistent/n09999997"),
}


def write_broken_link(root, kind: str, split: str = "train", wnid: str = WNIDS[1]) -> Path:
    """Make the broken symlink ``kind`` (a key of ``BROKEN_LINKS``) in ``root/<split>/`` (a class
    folder) or in ``root/<split>/<wnid>/`` (an image or folder link); return the link's path."""
    where, name, target = BROKEN_LINKS[kind]
    folder = Path(root) / split if where == "split" else Path(root) / split / wnid
    link = folder / name
    os.symlink(target, link)
    return link


def write_imagenet_tree(root, wnids=WNIDS, images_per_class: int = 3,
                        splits=("train", "val"), sizes=SIZES, seed: int = 0) -> Path:
    """Write ``root/<split>/<wnid>/<wnid>_<i>.JPEG`` for every split and class; sizes cycle
    through ``sizes``; one image per split is greyscale (ImageNet has some). Returns ``root``."""
    root = Path(root)
    k = 0
    for split in splits:
        for c, wnid in enumerate(wnids):
            for i in range(images_per_class):
                w, h = sizes[k % len(sizes)]
                mode = "L" if (c == 0 and i == 0) else "RGB"
                write_jpeg(root / split / wnid / f"{wnid}_{i}.JPEG", w, h, seed=seed + k, mode=mode)
                k += 1
    return root
