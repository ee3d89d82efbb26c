"""``python -m saccader data ...``: generate the clutter data set, check an ImageNet tree.

    python -m saccader data clutter --num-images 5000 --split train [--set object_size=24]
    python -m saccader data check-imagenet --data-dir /data/imagenet [--split val] [--verify header]
    python -m saccader data imagenette --root DIR [--download] [--size 320]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def add_subparser(subparsers) -> argparse.ArgumentParser:
    """Add the ``data`` sub-command (with ``clutter`` and ``check-imagenet``) to ``subparsers``."""
    parser = subparsers.add_parser(
        "data", help="generate the clutter data set or check an ImageNet folder",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser("clutter", help="generate (and cache) the clutter data set; print a summary")
    p.add_argument("--num-images", type=int, default=None,
                   help="images to generate (default: 5000 train, 1000 val/test)")
    p.add_argument("--split", choices=("train", "val", "test"), default="train")
    p.add_argument("--set", dest="overrides", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="override a ClutterConfig field (repeatable)")
    p.add_argument("--cache-dir", default=None,
                   help="cache folder (default $SACCADER_CACHE/clutter or ~/.cache/saccader/clutter)")
    p.add_argument("--no-cache", action="store_true", help="generate in memory only")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_clutter)

    p = sub.add_parser("check-imagenet", help="scan an ImageNet tree; report counts and bad files")
    p.add_argument("--data-dir", required=True, help="folder holding train/<wnid>/ and val/<wnid>/")
    p.add_argument("--split", action="append", default=None, choices=("train", "val", "test"),
                   help="split(s) to check (default: train and val)")
    p.add_argument("--verify", choices=("full", "header"), default="full",
                   help="full: decode every image (slow, thorough); header: open headers only")
    p.add_argument("--workers", type=int, default=8, help="threads for scanning and decoding")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_check_imagenet)

    p = sub.add_parser("imagenette", help="get Imagenette (--download) or read a folder of it; print its classes")
    p.add_argument("--root", required=True,
                   help="the folder holding train/ and val/, or where --download puts imagenette2[-320|-160]/")
    p.add_argument("--download", action="store_true",
                   help="download and extract it with torchvision.datasets.Imagenette (the official URL and MD5)")
    p.add_argument("--size", choices=("full", "320", "160"), default=None,
                   help="which download (--download: default 320; reading: picks one of several)")
    p.add_argument("--json", action="store_true", help="print the classes as JSON")
    p.set_defaults(func=run_imagenette)
    return parser


def run_imagenette(args) -> int:
    """The classes of an Imagenette folder (after downloading it with ``--download``): wnid, name,
    ILSVRC-2012 index (1001-class labels), images per split; and the ``--data-dir`` to train on."""
    from collections import Counter

    from saccader.data import imagenette
    from saccader.train.config import ConfigError

    try:
        root = imagenette.download(args.root, args.size or "320") if args.download else \
            imagenette.resolve_root(args.root, args.size)
        train, val = (imagenette.build_imagenette(split, root) for split in ("train", "val"))
    except (OSError, ValueError, RuntimeError) as err:
        raise ConfigError(f"--root {args.root}: {err}") from None
    # the two splits hold the same classes (ImageNetFolder checks), so they share the labels
    per_train, per_val = Counter(train.targets), Counter(val.targets)
    rows = [{"wnid": wnid, "name": train.class_names[k], "ilsvrc_index": train.ilsvrc_indices[k],
             "train": per_train[k], "val": per_val[k]} for k, wnid in enumerate(train.classes)]
    if args.json:
        print(json.dumps({"data_dir": str(root), "classes": rows}, indent=2))
        return 0
    print(f"{root}: {len(rows)} classes, {sum(r['train'] for r in rows)} train / {sum(r['val'] for r in rows)} val "
          "images")
    print(f"  {'label':>5s}  {'wnid':10s}  {'ILSVRC-2012 (1001-class)':>24s}  {'train':>6s}  {'val':>5s}  name")
    for k, r in enumerate(rows):
        print(f"  {k:5d}  {r['wnid']:10s}  {r['ilsvrc_index']:24d}  {r['train']:6d}  {r['val']:5d}  {r['name']}")
    print(f"train on it with: --set dataset=imagenette --data-dir {root}")
    return 0


def run_clutter(args) -> int:
    from saccader.data.synthetic import ClutterConfig, ClutterDataset, describe
    from saccader.train.config import ConfigError, check_min, check_output_dir

    try:
        cfg = ClutterConfig.from_overrides(dict(args.overrides))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"--set {' '.join(f'{k}={v}' for k, v in args.overrides)}: {err}") from None
    check_min("--num-images", args.num_images, 1, 1000)
    if args.cache_dir and not args.no_cache:
        check_output_dir(args.cache_dir, key="cache_dir", flag="--cache-dir")
    t0 = time.perf_counter()
    ds = ClutterDataset(cfg, args.split, args.num_images, cache_dir=args.cache_dir,
                        use_cache=not args.no_cache)
    seconds = time.perf_counter() - t0
    info = describe(ds)
    summary = dict(info["summary"], seconds=round(seconds, 3),
                   source="cache" if ds.from_cache else "generated",
                   cache_path=str(ds.cache_path) if ds.cache_path else None)
    if args.json:
        table = info["per_class"][["class", "name", "count"]].to_dict("records")
        print(json.dumps({"summary": summary, "classes": table, "config": info["config"]},
                         indent=2, default=str))
        return 0
    verb = "read from cache" if ds.from_cache else "generated"
    print(f"clutter ({cfg.kind}) {args.split}: {len(ds)} images of {cfg.image_size} px, {ds.num_classes} classes, "
          f"{verb} in {seconds:.2f} s")
    if ds.cache_path:
        print(f"cache: {ds.cache_path}")
    print(f"object {summary['object_size']:.0f} px on average ({summary['object_area_fraction']:.1%} of the image), "
          f"glimpse {cfg.glimpse_size} px ({summary['glimpse_area_fraction']:.1%})")
    print("class balance:")
    table = info["per_class"]
    for k, name, count, frac in zip(table["class"], table["name"], table["count"], table["fraction"]):
        print(f"  {k:3d} {name:<28s} {count:6d}  {frac:6.1%}")
    return 0


def run_check_imagenet(args) -> int:
    from saccader.data.imagenet import check_tree
    from saccader.train.config import ConfigError, check_min

    if not Path(args.data_dir).expanduser().is_dir():
        raise ConfigError(f"--data-dir {args.data_dir}: no such folder; pass the ImageNet root (the folder holding "
                          "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG)")
    check_min("--workers", args.workers, 1, 8)
    splits = tuple(args.split) if args.split else ("train", "val")
    t0 = time.perf_counter()
    report = check_tree(args.data_dir, splits, verify=args.verify, workers=args.workers)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"ImageNet tree {report['data_dir']} ({args.verify} check, {report['seconds']} s)")
        for split, entry in report["splits"].items():
            if "error" in entry:
                print(f"  {split}: ERROR {entry['error']}")
                continue
            print(f"  {split}: {entry['classes']} classes, {entry['images']} readable images "
                  f"({entry['min_per_class']}-{entry['max_per_class']} per class), "
                  f"{len(entry['corrupt'])} unreadable, {len(entry['bad_links'])} broken symlinks")
            for path in entry["corrupt"][:20]:
                print(f"    unreadable: {path}")
            for link in entry["bad_links"][:20]:
                print(f"    broken symlink: {link['path']} ({link['problem']})")
    bad = any("error" in e or e.get("corrupt") or e.get("bad_links") for e in report["splits"].values())
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m saccader.data.cli")
    add_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *(sys.argv[1:] if argv is None else argv)])
    from saccader.cli import run_command

    return run_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
