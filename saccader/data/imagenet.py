"""ImageNet ILSVRC-2012 from the standard folder layout, with the paper's preprocessing (SPEC 3.6).

Expected layout (what ``torchvision.datasets.ImageFolder`` and most ImageNet copies use)::

    <data_dir>/train/<wnid>/*.JPEG     1000 folders, 1,281,167 images
    <data_dir>/val/<wnid>/*.JPEG       1000 folders, 50,000 images (sorted into class folders,
                                       e.g. with the well-known ``valprep.sh``)

Labels: class index = position of the wnid in the sorted list of class folders + ``label_offset``.
``label_offset=1`` (the default) reproduces the official code's 1001-class labels (TF-slim /
TFDS convention): slot 0 is an unused "background" class and n01440764 (tench) is 1. Use
``label_offset=0`` for the usual 1000-class PyTorch labels.

Bad input never yields a silently wrong label: a missing root, split folder or class folder, an
empty class folder, a class set that differs between splits, or an unreadable image each give an
error that names the path and the fix. Unreadable images either raise (``on_corrupt="raise"``) or
are skipped and counted (``on_corrupt="skip"``: attribute ``num_skipped``, and a warning that lists
the first few paths).

Broken symlinks are handled the same way (``BrokenLinkError`` or skipped, listed in ``bad_links``):
a link that loops (to itself, or ``ELOOP``), a folder link to its own folder or to an ancestor (a
loop for anything that walks the tree), and a dangling link named like an image or sitting where the
class folders are. A skipped class-folder link is not a class (the labels of later classes shift;
a split whose class set then differs from the other split's is an error).
"""
from __future__ import annotations

import errno
import os
import stat
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

from saccader.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform

IMG_EXTENSIONS = (".jpeg", ".jpg", ".png")
SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
VERIFY_MODES = ("lazy", "header", "full")
_LOAD_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
_WARN_FIRST = 5


class CorruptImageError(RuntimeError):
    """An image file that PIL cannot read."""


class BrokenLinkError(CorruptImageError):
    """A symlink in the tree that loops (to itself or to an ancestor folder) or points nowhere."""


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode an image file to an RGB PIL image (grey and CMYK JPEGs are converted).

    Raises ``CorruptImageError`` naming the file if it cannot be read."""
    try:
        with open(path, "rb") as fh:
            img = Image.open(fh)
            return img.convert("RGB")  # forces a full decode while the file is open
    except _LOAD_ERRORS as err:
        raise CorruptImageError(
            f"cannot read image {path}: {type(err).__name__}: {err}. Replace or delete the file, "
            f"or pass on_corrupt='skip' to skip unreadable images"
        ) from err


def _check_header(path: str) -> str | None:
    """None if PIL recognizes the file's header, else the error text."""
    try:
        with Image.open(path) as img:
            img.size  # noqa: B018 - header only
        return None
    except _LOAD_ERRORS as err:
        return f"{type(err).__name__}: {err}"


def _check_full(path: str) -> str | None:
    try:
        load_rgb(path)
        return None
    except CorruptImageError as err:
        return str(err.__cause__)


def _link_problem(entry: os.DirEntry, folder, report_dangling: bool) -> str | None:
    """Why the symlink ``entry`` of ``folder`` is unusable, or None (not a link, or a good one).

    Unusable: a loop (following it fails with ELOOP), a link to ``folder`` itself or to one of its
    ancestors (a loop for anything that walks the tree) and, if ``report_dangling``, a link whose
    target is missing or cannot be read."""
    if not entry.is_symlink():
        return None
    try:
        st = entry.stat()  # follows the link (cached: is_file()/is_dir() reuse it)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symlink loop: too many levels of symbolic links"
        if not report_dangling:
            return None
        try:
            target = os.readlink(entry.path)
        except OSError:
            target = "?"
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"dangling symlink: its target {target} does not exist"
        return f"symlink that cannot be followed to {target}: {err.strerror}"
    if stat.S_ISDIR(st.st_mode):
        target = os.path.realpath(entry.path)
        here = os.path.realpath(folder)
        if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
            which = "its own folder" if here == target else "an ancestor folder"
            return f"symlink loop: links to {which} {target}"
    return None


def _scan_subdirs(path) -> tuple[list[str], list[tuple[str, str]]]:
    """(sorted folder names, [(path, problem)] of broken symlinks) under ``path``."""
    names, bad = [], []
    with os.scandir(path) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            problem = _link_problem(e, path, report_dangling=True)
            if problem is not None:
                bad.append((e.path, problem))
            elif e.is_dir():
                names.append(e.name)
    return sorted(names), sorted(bad)


def _subdirs(path: Path) -> list[str]:
    return _scan_subdirs(path)[0]


def _scan_images(class_dir: str, extensions) -> tuple[list[str], list[tuple[str, str]]]:
    """(sorted image names, [(path, problem)] of broken symlinks) in ``class_dir``."""
    names, bad = [], []
    with os.scandir(class_dir) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            is_image = e.name.lower().endswith(extensions)
            problem = _link_problem(e, class_dir, report_dangling=is_image)
            if problem is not None:
                bad.append((e.path, problem))
            elif is_image and e.is_file():
                names.append(e.name)
    return sorted(names), sorted(bad)


def _list_images(class_dir: str, extensions) -> list[str]:
    return _scan_images(class_dir, extensions)[0]


def _describe_links(bad: list[tuple[str, str]], first: int = _WARN_FIRST) -> str:
    return "; ".join(f"{p}: {why}" for p, why in bad[:first]) + (" ..." if len(bad) > first else "")


def _broken_link_error(bad: list[tuple[str, str]]) -> BrokenLinkError:
    path, why = bad[0]
    more = f" (and {len(bad) - 1} more broken symlinks)" if len(bad) > 1 else ""
    return BrokenLinkError(f"broken symlink {path}: {why}{more}. Remove or fix the link, or pass "
                           f"on_corrupt='skip' to skip broken links")


def resolve_split_dir(root, split: str) -> Path:
    """``root/<split folder>``, with errors that say what is wrong and how to fix it."""
    if root is None:
        raise ValueError("ImageNet needs its data folder: pass --data-dir /path/to/imagenet "
                         "(the folder holding train/ and val/), or data_dir=... in Python")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"ImageNet root {root} does not exist or is not a folder; pass --data-dir pointing at "
            f"the folder that holds train/<wnid>/*.JPEG and val/<wnid>/*.JPEG")
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"unknown ImageNet split {split!r}; use one of {sorted(SPLIT_FOLDERS)}")
    split_dir = root / SPLIT_FOLDERS[split]
    if not split_dir.is_dir() and split_dir.is_symlink():
        raise FileNotFoundError(
            f"ImageNet split folder {split_dir} is a broken symlink (it loops or its target "
            f"{os.readlink(split_dir)} does not exist); remove or fix the link")
    if not split_dir.is_dir():
        present = ", ".join(_subdirs(root)) or "nothing"
        raise FileNotFoundError(
            f"ImageNet split folder {split_dir} is missing (the root holds: {present}); expected "
            f"{split_dir}/<wnid>/*.JPEG. Check --data-dir, or extract the {split} archive there")
    return split_dir


class ImageNetFolder(torch.utils.data.Dataset):
    """ILSVRC-2012 split in the folder layout ``root/<split>/<wnid>/*.JPEG`` -> (image, label).

    Args:
        root: folder holding ``train/`` and ``val/``.
        split: "train", "val" (alias "validation") or "test" (a folder of the same layout).
        transform: callable on the RGB PIL image (e.g. ``train_transform()``, ``eval_transform()``);
            None returns the PIL image.
        on_corrupt: "skip" (default) skips unreadable images and broken symlinks (loops, links to
            an ancestor folder, dangling links), counts them in ``num_skipped`` and warns with the
            first few paths; "raise" raises ``CorruptImageError`` (``BrokenLinkError`` for a
            link) naming the file.
        label_offset: added to the sorted-wnid class index. 1 (default) = the official 1001-class
            labels with slot 0 = background (tench n01440764 -> 1); 0 = 1000-class labels.
        verify: when unreadable files are found. "lazy" (default): when an image is loaded (a
            skipped image is replaced by the next readable one, so every returned label is the
            label of the returned image; counts made in DataLoader worker processes stay there).
            "header": open every file's header at construction; "full": decode every file at
            construction (slow on the full training set; ``python -m saccader data
            check-imagenet`` does this once).
        classes: explicit wnid list (fixes the label mapping); default = sorted class folders of
            this split, which must equal those of the other split folders present under ``root``.
        workers: threads used to scan class folders and verify files.

    Attributes: classes (wnids), class_to_idx (wnid -> label), samples [(path, label)], targets,
    num_classes (= len(classes) + label_offset), num_skipped, skipped_paths (unreadable images),
    bad_links [(path, problem)] (broken symlinks skipped at construction), split_dir.
    """

    def __init__(self, root, split: str = "train", transform: Callable | None = None,
                 on_corrupt: str = "skip", label_offset: int = 1, verify: str = "lazy",
                 classes: list[str] | None = None, extensions=IMG_EXTENSIONS, workers: int = 8):
        if on_corrupt not in ("skip", "raise"):
            raise ValueError(f"on_corrupt must be 'skip' or 'raise', got {on_corrupt!r}")
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        if label_offset < 0:
            raise ValueError(f"label_offset must be >= 0, got {label_offset}")
        self.root = Path(root).expanduser() if root is not None else None
        self.split = split
        self.split_dir = resolve_split_dir(root, split)
        self.transform = transform
        self.on_corrupt = on_corrupt
        self.label_offset = label_offset
        self.verify = verify
        self.extensions = tuple(e.lower() for e in extensions)
        self.skipped_paths: list[str] = []  # scan-time ones, then the first 100 lazy ones
        self._scan_skipped = 0
        self._lazy_bad: set[str] = set()  # unreadable files found while loading

        found, bad_links = _scan_subdirs(self.split_dir)
        if bad_links and on_corrupt == "raise":
            raise _broken_link_error(bad_links)
        self.bad_links: list[tuple[str, str]] = list(bad_links)  # (path, problem), all of them
        if not found:
            flat = _list_images(str(self.split_dir), self.extensions)
            hint = (f" It holds {len(flat)} images directly: sort them into <wnid> class folders "
                    f"(for ILSVRC-2012 val, e.g. with valprep.sh)." if flat else "")
            if bad_links:
                hint += f" Broken symlinks skipped there: {_describe_links(bad_links)}."
            raise FileNotFoundError(
                f"{self.split_dir} has no class folders; expected {self.split_dir}/<wnid>/*.JPEG."
                + hint)
        if classes is None:
            classes = found
            self._check_other_splits(found)
        else:
            classes = list(classes)
            missing = [c for c in classes if c not in set(found)]
            if missing:
                raise FileNotFoundError(
                    f"{len(missing)} class folders are missing under {self.split_dir}: "
                    f"{missing[:5]}{' ...' if len(missing) > 5 else ''}; restore them or pass "
                    f"classes= without them")
        self.classes = list(classes)
        self.class_to_idx = {c: i + label_offset for i, c in enumerate(self.classes)}
        self.num_classes = len(self.classes) + label_offset

        dirs = [str(self.split_dir / c) for c in self.classes]
        with ThreadPoolExecutor(max(1, workers)) as pool:
            listings = list(pool.map(lambda d: _scan_images(d, self.extensions), dirs))
        for _, bad_here in listings:
            self.bad_links.extend(bad_here)
        if self.bad_links and on_corrupt == "raise":
            raise _broken_link_error(self.bad_links)
        if self.bad_links:
            warnings.warn(
                f"skipped {len(self.bad_links)} broken symlinks under {self.split_dir} "
                f"(on_corrupt='skip'): {_describe_links(self.bad_links)}", stacklevel=2)
        samples = []
        for wnid, d, (names, bad_here) in zip(self.classes, dirs, listings):
            if not names:
                skipped = (f" (broken symlinks skipped in it: {_describe_links(bad_here)})"
                           if bad_here else "")
                raise FileNotFoundError(
                    f"class folder {d} has no images ({'/'.join(self.extensions)}){skipped}; "
                    f"restore its images or delete the folder (that shifts the labels of later "
                    f"classes)")
            label = self.class_to_idx[wnid]
            samples.extend((os.path.join(d, n), label) for n in names)

        if verify != "lazy":
            check = _check_header if verify == "header" else _check_full
            with ThreadPoolExecutor(max(1, workers)) as pool:
                errors = list(pool.map(check, (p for p, _ in samples)))
            bad = [(p, e) for (p, _), e in zip(samples, errors) if e is not None]
            if bad and on_corrupt == "raise":
                p, e = bad[0]
                raise CorruptImageError(
                    f"cannot read image {p}: {e}"
                    + (f" (and {len(bad) - 1} more unreadable files)" if len(bad) > 1 else "")
                    + ". Replace or delete it, or pass on_corrupt='skip'")
            if bad:
                bad_set = {p for p, _ in bad}
                samples = [s for s in samples if s[0] not in bad_set]
                self.skipped_paths.extend(p for p, _ in bad)
                self._scan_skipped = len(bad)
                warnings.warn(
                    f"skipped {len(bad)} unreadable images under {self.split_dir} "
                    f"(on_corrupt='skip'); first: {[p for p, _ in bad[:_WARN_FIRST]]}",
                    stacklevel=2)
        if not samples:
            raise FileNotFoundError(f"no readable images under {self.split_dir}")
        self.samples = samples
        self.targets = [label for _, label in samples]

    def _check_other_splits(self, found: list[str]) -> None:
        """The sorted-wnid mapping is only right if every split has the same class folders."""
        for name in ("train", "val"):
            other = self.root / name
            if other == self.split_dir or not other.is_dir():
                continue
            theirs, their_bad = _scan_subdirs(other)
            if theirs and theirs != found:
                only_here = sorted(set(found) - set(theirs))[:5]
                only_there = sorted(set(theirs) - set(found))[:5]
                links = self.bad_links + their_bad
                links = f" Broken symlinks skipped: {_describe_links(links)}." if links else ""
                raise ValueError(
                    f"class folders of {self.split_dir} ({len(found)}) differ from {other} "
                    f"({len(theirs)}): only in {self.split_dir.name}: {only_here}, only in "
                    f"{name}: {only_there}. Labels would not match between splits; fix the folders "
                    f"or pass classes=[...] explicitly.{links}")

    @property
    def num_skipped(self) -> int:
        """Unreadable images skipped so far (at construction, plus lazily in this process), plus
        the broken symlinks skipped at construction (``bad_links``)."""
        return self._scan_skipped + len(self.bad_links) + len(self._lazy_bad)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        n = len(self.samples)
        for attempt in range(n):
            path, label = self.samples[(index + attempt) % n]
            if path in self._lazy_bad:
                continue
            try:
                img = load_rgb(path)
            except CorruptImageError:
                if self.on_corrupt == "raise":
                    raise
                self._lazy_bad.add(path)
                if len(self._lazy_bad) <= 100:
                    self.skipped_paths.append(path)
                if len(self._lazy_bad) <= _WARN_FIRST:
                    warnings.warn(f"skipped unreadable image {path} (on_corrupt='skip'); the next "
                                  f"readable image is returned in its place", stacklevel=2)
                continue
            return (self.transform(img) if self.transform is not None else img), label
        raise CorruptImageError(f"no image under {self.split_dir} could be read")

    def __repr__(self) -> str:
        return (f"ImageNetFolder(split_dir={str(self.split_dir)!r}, images={len(self)}, "
                f"classes={len(self.classes)}, label_offset={self.label_offset})")


def build_imagenet(split: str, data_dir=None, image_size: int = 224,
                   transform: Callable | None = None, crop_fraction: float | None = None,
                   label_offset: int = 1, on_corrupt: str = "skip", verify: str = "lazy",
                   interpolation: str = "bicubic", crop: str = "tf", resize: str = "tf1",
                   mean=IMAGENET_MEAN, std=IMAGENET_STD, **kw) -> ImageNetFolder:
    """``ImageNetFolder`` with the paper's preprocessing: ``train_transform(image_size)`` for the
    train split, ``eval_transform(image_size, crop_fraction)`` otherwise (unless ``transform`` is
    given). ``data_dir`` is required.

    ``crop``: training crop sampler, "tf" (default: the official ``sample_distorted_bounding_box``)
    or "torchvision" (``RandomResizedCrop``'s scheme). ``resize``: "tf1" (default: the official TF1
    ``resize_bicubic`` on floats, no antialiasing) or "pil" (PIL's antialiased bicubic), for the
    train and the eval transform. See ``saccader.data.transforms``."""
    if data_dir is None:
        raise ValueError("the imagenet data set needs its folder: pass --data-dir /path/to/imagenet "
                         "(holding train/ and val/), or data_dir=... to build_dataset")
    if transform is None:
        if split == "train":
            transform = train_transform(image_size, interpolation=interpolation, crop=crop,
                                        resize=resize, mean=mean, std=std)
        else:
            transform = eval_transform(image_size, crop_fraction, interpolation=interpolation,
                                       resize=resize, mean=mean, std=std)
    return ImageNetFolder(data_dir, split, transform, on_corrupt=on_corrupt,
                          label_offset=label_offset, verify=verify, **kw)


def check_tree(data_dir, splits=("train", "val"), verify: str = "full", workers: int = 8) -> dict:
    """Scan an ImageNet tree and report, per split: classes, images, min/max images per class, the
    unreadable files (``verify="full"`` decodes every image; "header" only opens it) and the broken
    symlinks (``bad_links``: [{"path", "problem"}], loops and dangling links).

    A split that cannot be read (missing folder, no images, ...) is reported with its error
    instead of raising."""
    report = {"data_dir": str(Path(data_dir).expanduser()), "splits": {}}
    for split in splits:
        entry: dict = {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = ImageNetFolder(data_dir, split, on_corrupt="skip", verify=verify,
                                    label_offset=0, workers=workers)
            counts = torch.bincount(torch.tensor(ds.targets), minlength=len(ds.classes))
            entry.update(
                classes=len(ds.classes), images=len(ds), corrupt=list(ds.skipped_paths),
                bad_links=[{"path": p, "problem": why} for p, why in ds.bad_links],
                min_per_class=int(counts.min()), max_per_class=int(counts.max()),
                first_class=ds.classes[0], last_class=ds.classes[-1])
        except (OSError, ValueError) as err:  # FileNotFoundError, or e.g. a folder we may not read
            entry["error"] = str(err)
        report["splits"][split] = entry
    return report
