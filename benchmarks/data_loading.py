"""Images/s of the ImageNet training input pipeline on JPEGs of ImageNet's sizes (project issue #6).

    python benchmarks/data_loading.py --workers 4 8 16 \
        --train-csv data/benchmarks/h100/train_throughput.csv    # on a GPU machine
    python benchmarks/data_loading.py --device cpu --images 16 --batch 4 --workers 0 --batches 2   # check

Pipelines (each yields standardized float batches (B, 3, 224, 224) on the training device):

* ``cpu_pil``: what training runs, ``ImageNetFolder`` + ``train_transform`` (PIL decode, Inception
  crop, bicubic resize, flip, standardize) in ``--workers`` DataLoader processes, pinned memory,
  copied to the device.
* ``gpu_decode``: the workers only read the files; ``torchvision.io.decode_jpeg(device="cuda")``
  decodes the batch on the GPU (nvJPEG), then the same crop (``InceptionCrop.get_params``),
  bicubic antialiased resize, flip and standardization run on the GPU. Without a GPU the same code
  decodes on the CPU (``cpu_decode``): a functional check only.

JPEGs: ``--images`` textured images (about ImageNet's 110 kB per file at quality 90) cycling through
``--sizes`` (default 500x375, 375x500, 500x333, 500x500: ImageNet's usual shapes), written to
``--jpeg-dir`` (kept and reused) or a temporary folder; ``--imagenet-dir`` uses a real ImageNet
train split instead. Files are read through the page cache after the first pass: the numbers are
the decode + transform cost, not the disk's.

Each configuration runs ``--warmup`` batches (worker start-up), then ``--repeats`` chunks of
``--batches`` batches; images/s is the median over the chunks. With ``--train-csv`` (a
``train_throughput.csv``) each row is compared with the fastest training step in it (images/s per
GPU): ``ratio_to_train`` > 1 means the pipeline keeps that GPU fed.

Writes ``data/benchmarks/<device kind>/data_loading.{csv,json}`` (see benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from saccader.bench.core import cpu_notice, setup_device, sync, write_results

NAME = "data_loading"
COLUMNS = ["device_kind", "device", "pipeline", "decode_device", "workers", "cpu_cores", "batch", "input",
           "images", "repeats", "median_s", "images_per_s", "min_images_per_s", "max_images_per_s",
           "mean_jpeg_kb", "train_stage", "train_images_per_s", "ratio_to_train", "status"]
WNIDS = ("n01440764", "n01443537", "n01484850", "n01491361")
DEFAULT_SIZES = ("500x375", "375x500", "500x333", "500x500")


# ------------------------------------------------------------------------------------------------
# JPEGs
# ------------------------------------------------------------------------------------------------

def textured_image(width: int, height: int, seed: int) -> Image.Image:
    """Smooth colour blobs plus pixel noise: JPEG sizes and decode costs like ImageNet photographs."""
    rng = np.random.default_rng(seed)
    low = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), "RGB").resize((width, height), Image.BICUBIC)
    noise = rng.normal(0, 14, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(low, dtype=np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def write_jpegs(root: Path, n: int, sizes=DEFAULT_SIZES, quality: int = 90) -> Path:
    """``root/train/<wnid>/<i>.JPEG`` (ImageNet's layout), ``n`` images over 4 classes; existing
    files are kept. Returns ``root``."""
    root = Path(root)
    for i in range(n):
        path = root / "train" / WNIDS[i % len(WNIDS)] / f"{i:06d}.JPEG"
        if not path.exists():
            w, h = (int(v) for v in sizes[i % len(sizes)].split("x"))
            path.parent.mkdir(parents=True, exist_ok=True)
            textured_image(w, h, i).save(path, format="JPEG", quality=quality)
    return root


# ------------------------------------------------------------------------------------------------
# pipelines
# ------------------------------------------------------------------------------------------------

class FileBytes(torch.utils.data.Dataset):
    """(encoded JPEG as a uint8 tensor, label) of an ``ImageNetFolder``'s samples: the workers'
    share of the GPU-decoding pipeline."""

    def __init__(self, folder):
        self.samples = folder.samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        from torchvision.io import read_file

        path, label = self.samples[i]
        return read_file(path), label


def _collate_bytes(batch):
    return [b[0] for b in batch], torch.tensor([b[1] for b in batch])


def gpu_transform(datas: list[torch.Tensor], device: torch.device, size: int = 224) -> torch.Tensor:
    """Decode a list of JPEG byte tensors on ``device`` and apply the training transform there:
    Inception crop (the same sampler as ``train_transform``), bicubic antialiased resize, random
    flip, standardization -> float (B, 3, size, size), channels_last on a GPU."""
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as TF

    from saccader.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InceptionCrop

    crop = InceptionCrop(size)
    images = decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
    out = torch.empty(len(images), 3, size, size, device=device)
    flips = torch.rand(len(images)) < 0.5
    for k, img in enumerate(images):
        top, left, h, w = crop.get_params(img.shape[-1], img.shape[-2])
        x = img[:, top:top + h, left:left + w].float()
        x = TF.resize(x, [size, size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
        out[k] = x.flip(-1) if flips[k] else x
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
    out = (out.clamp_(0, 255) - mean) / std
    return out.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else out


def _loader(dataset, batch: int, workers: int, num_batches: int, pin: bool, collate=None):
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=batch * num_batches)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                                       pin_memory=pin, drop_last=True, collate_fn=collate,
                                       prefetch_factor=4 if workers else None)


def run_pipeline(pipeline: str, folder, dev: torch.device, batch: int, workers: int, warmup: int,
                 batches: int, repeats: int) -> list[float]:
    """Images/s of each of ``repeats`` chunks of ``batches`` batches after ``warmup`` batches."""
    warmup = max(1, warmup)  # the first batch also waits for the workers to start: never timed
    total = warmup + batches * repeats
    pin = dev.type == "cuda"
    if pipeline == "cpu_pil":
        loader = _loader(folder, batch, workers, total, pin)
    else:
        loader = _loader(FileBytes(folder), batch, workers, total, pin, _collate_bytes)
    rates, t0, done = [], None, 0
    for i, (x, y) in enumerate(loader):
        if pipeline == "cpu_pil":
            x = x.to(dev, non_blocking=True)
            if dev.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
        else:
            x = gpu_transform(x, dev, folder.transform.transforms[0].size)
        y = y.to(dev, non_blocking=True)
        if i + 1 == warmup:
            sync(dev)
            t0, done = time.perf_counter(), 0
        elif i + 1 > warmup:
            done += 1
            if done == batches:
                sync(dev)
                now = time.perf_counter()
                rates.append(batches * batch / (now - t0))
                t0, done = now, 0
    return rates


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--workers", type=int, nargs="+", default=[4, 8, 16], help="DataLoader workers of cpu_pil")
    p.add_argument("--gpu-workers", type=int, default=4, help="file-reading workers of the GPU-decoding pipeline")
    p.add_argument("--pipelines", nargs="+", default=["cpu_pil", "gpu_decode"], choices=["cpu_pil", "gpu_decode"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=224, help="crop size (331 for the NASNet ClassNet)")
    p.add_argument("--images", type=int, default=1024, help="JPEGs to generate (sampled with replacement)")
    p.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="WxH of the generated JPEGs")
    p.add_argument("--jpeg-dir", help="keep the generated JPEGs here (default: a temporary folder)")
    p.add_argument("--imagenet-dir", help="use this ImageNet root's train/ split instead of generated JPEGs")
    p.add_argument("--warmup", type=int, default=4, help="untimed batches first (worker start-up; at least 1)")
    p.add_argument("--batches", type=int, default=10, help="batches per timed chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed chunks; the median is reported")
    p.add_argument("--train-csv", help="a train_throughput.csv to compare with")
    p.add_argument("--threads", type=int, help="torch CPU threads of the main process")
    p.add_argument("--out-dir", help="where to write (default: data/benchmarks/<device kind>/)")
    return p.parse_args(argv)


def fastest_training(train_csv) -> tuple[str, float] | None:
    """(stage, images/s) of the fastest successful training configuration in a train_throughput.csv
    (the ResNet-50 reference excluded)."""
    import pandas as pd

    df = pd.read_csv(train_csv)
    df = df[(df["status"] == "ok") & ~df["stage"].str.endswith("_reference")]
    if df.empty:
        return None
    best = df.loc[df["images_per_s"].idxmax()]
    return str(best["stage"]), float(best["images_per_s"])


def main(argv=None) -> list[dict]:
    from saccader.data.imagenet import ImageNetFolder
    from saccader.data.transforms import train_transform

    a = parse_args(argv)
    dev, kind, desc = setup_device(a.device, a.threads, "data-loading throughput")
    tmp = None
    if a.imagenet_dir:
        root = Path(a.imagenet_dir)
    else:
        if not a.jpeg_dir:
            tmp = tempfile.TemporaryDirectory(prefix="saccader-jpegs-")
        root = write_jpegs(Path(a.jpeg_dir or tmp.name), a.images, a.sizes)
    folder = ImageNetFolder(root, "train", transform=train_transform(a.size))
    kb = statistics.mean(os.path.getsize(p) for p, _ in folder.samples[:256]) / 1024
    train = fastest_training(a.train_csv) if a.train_csv else None
    configs = [("cpu_pil", "cpu", w) for w in a.workers] if "cpu_pil" in a.pipelines else []
    if "gpu_decode" in a.pipelines:
        configs.append(("gpu_decode" if dev.type == "cuda" else "cpu_decode", dev.type, a.gpu_workers))
    print(f"{len(folder)} JPEGs, mean {kb:.0f} kB; {os.cpu_count()} CPU cores", flush=True)
    print(f"{'pipeline':12s} {'decode':6s} {'workers':>7s} {'batch':>5s} {'img/s':>9s}  status", flush=True)
    rows = []
    for pipeline, decode, workers in configs:
        row = {"device_kind": kind, "device": desc, "pipeline": pipeline, "decode_device": decode, "workers": workers,
               "cpu_cores": os.cpu_count(), "batch": a.batch, "input": a.size, "images": a.batch * a.batches,
               "repeats": a.repeats, "mean_jpeg_kb": kb}
        try:
            rates = run_pipeline(pipeline.replace("cpu_decode", "gpu_decode"), folder, dev, a.batch, workers,
                                 a.warmup, a.batches, a.repeats)
            med = statistics.median(rates)
            row.update(images_per_s=med, median_s=a.batch * a.batches / med, min_images_per_s=min(rates),
                       max_images_per_s=max(rates), status="ok")
        except Exception as exc:  # noqa: BLE001 - e.g. torchvision without nvJPEG; report and go on
            row["status"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        if train and row["status"] == "ok":
            row.update(train_stage=train[0], train_images_per_s=train[1], ratio_to_train=row["images_per_s"] / train[1])
        rows.append(row)
        ok = row["status"] == "ok"
        extra = f"  x{row['ratio_to_train']:.2f} of {train[0]}'s training step" if ok and train else ""
        print(f"{pipeline:12s} {decode:6s} {workers:7d} {a.batch:5d} "
              f"{row['images_per_s'] if ok else float('nan'):9.1f}  {row['status']}{extra}", flush=True)
    path = write_results(rows, NAME, dev, COLUMNS, settings={**vars(a), "jpeg_root": str(root)}, out_dir=a.out_dir)
    print(f"wrote {path} and {path.with_suffix('.json').name}", flush=True)
    if tmp is not None:
        tmp.cleanup()
    notice = cpu_notice(dev, "data-loading throughput")
    if notice:
        print(notice, flush=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
