"""The training engine's data: each split built the way the model expects, this rank's training and
evaluation batches, and the batches moved to the device."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from saccader.train import distributed
from saccader.train.config import ConfigError, TrainConfig
from saccader.train.distributed import DistInfo, TrainSampler


class _Head(Dataset):
    """The first ``n`` items of a dataset (keeps the fast ``get_batch`` path when there is one)."""

    def __init__(self, dataset, n: int):
        self.dataset, self.n = dataset, n
        if hasattr(dataset, "get_batch"):
            self.get_batch = dataset.get_batch

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return self.dataset[i]


@dataclass
class Data:
    train: Dataset
    eval: Dataset
    test: Dataset | None
    sampler: TrainSampler
    per_rank_batch: int
    eval_batch: int
    image_size: int


def build_split(cfg: TrainConfig, split: str, net_cfg, train: bool) -> Dataset:
    """One split of ``cfg.dataset``, prepared the way the model expects (its mean/std, image size,
    crop and label offset)."""
    from saccader.data import build_dataset

    kw = dict(cfg.dataset_kwargs)
    limit = cfg.max_train_images if train else cfg.max_eval_images
    kw.setdefault("mean", tuple(net_cfg.mean))
    kw.setdefault("std", tuple(net_cfg.std))
    if cfg.dataset == "clutter":
        if limit:
            kw["num_images"] = min(limit, kw.get("num_images", limit))
        kw["augment"] = bool(train and cfg.augment)
    elif cfg.dataset in ("imagenet", "imagenette"):
        if not cfg.data_dir:
            raise ConfigError(f"the {cfg.dataset} data set needs its folder: pass --data-dir DIR "
                              "(holding train/<wnid>/*.JPEG and val/<wnid>/*.JPEG)")
        kw["data_dir"] = cfg.data_dir
        kw.setdefault("image_size", net_cfg.input_size[-1])
        kw.setdefault("crop_fraction", net_cfg.crop_fraction)
        kw.setdefault("label_offset", net_cfg.label_offset)
        if train and not cfg.augment:
            from saccader.data.imagenet import eval_transform

            kw["transform"] = eval_transform(kw["image_size"], crop_fraction=kw["crop_fraction"],
                                             resize=kw.get("resize", "tf1"), mean=kw["mean"], std=kw["std"])
    ds = build_dataset(cfg.dataset, split, **kw)
    if limit and len(ds) > limit:
        targets = getattr(ds, "targets", None)
        if targets is None:
            return _Head(ds, limit)
        from saccader.data.subsets import stratified_indices

        # every class in proportion, drawn by a fixed seed: each run (any training seed) sees the same images
        ds = Subset(ds, stratified_indices(targets, limit, seed=0))
    return ds


def load_data(cfg: TrainConfig, net_cfg, info: DistInfo) -> Data:
    if cfg.batch_size % info.world_size:
        raise ConfigError(f"batch_size={cfg.batch_size} (global) must be divisible by the number of processes "
                          f"({info.world_size})")
    per_rank = cfg.batch_size // info.world_size
    train = build_split(cfg, cfg.train_split, net_cfg, train=True)
    evals = build_split(cfg, cfg.eval_split, net_cfg, train=False)
    test = build_split(cfg, cfg.test_split, net_cfg, train=False) if cfg.test_split else None
    sampler = TrainSampler(train, per_rank, num_replicas=info.world_size, rank=info.rank, seed=cfg.seed)
    if sampler.batches_per_epoch() == 0:
        raise ConfigError(f"the training set has {len(train)} images, fewer than one global batch of "
                          f"{cfg.batch_size}: lower batch_size or raise max_train_images")
    eval_batch = max(1, (cfg.eval_batch_size or cfg.batch_size) // info.world_size)
    return Data(train, evals, test, sampler, per_rank, eval_batch, net_cfg.input_size[-1])


def _mix(*ints: int) -> int:
    """A 63-bit seed from several integers."""
    h = 1469598103934665603
    for v in ints:
        h = ((h ^ (int(v) & 0xFFFFFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


def train_batches(data: Data, cfg: TrainConfig, epoch: int, start_batch: int, info: DistInfo):
    """This rank's training batches of an epoch, from batch ``start_batch`` on."""
    ds, b = data.train, data.per_rank_batch
    data.sampler.set_epoch(epoch, start_batch)
    if hasattr(ds, "get_batch"):  # in-memory data set: vectorized batches, no worker processes
        order = list(data.sampler)
        for k in range(len(order) // b):
            gen = torch.Generator().manual_seed(_mix(cfg.seed, epoch, start_batch + k, info.rank))
            yield ds.get_batch(order[k * b:(k + 1) * b], generator=gen)
        return
    gen = torch.Generator().manual_seed(_mix(cfg.seed, epoch, start_batch, info.rank))
    loader = DataLoader(ds, batch_size=b, sampler=data.sampler, num_workers=cfg.num_workers, drop_last=True,
                        pin_memory=info.device.type == "cuda", generator=gen,
                        persistent_workers=False)
    yield from loader


def eval_batches(ds: Dataset, batch: int, cfg: TrainConfig, info: DistInfo):
    """This rank's share of an evaluation set: images rank, rank + W, ... (no padding, no repeats)."""
    idx = distributed.eval_shard(len(ds), info.rank, info.world_size)
    if hasattr(ds, "get_batch"):
        for k in range(0, len(idx), batch):
            yield ds.get_batch(idx[k:k + batch])
        return
    loader = DataLoader(Subset(ds, idx), batch_size=batch, shuffle=False, num_workers=cfg.num_workers,
                        pin_memory=info.device.type == "cuda")
    yield from loader


def _prepare(x: torch.Tensor, y: torch.Tensor, size: int | None, device: torch.device, channels_last: bool):
    x = x.to(device, non_blocking=True)
    y = torch.as_tensor(y).to(device, non_blocking=True).long()
    if size and (x.shape[-1] != size or x.shape[-2] != size):  # data set made at another size
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y
