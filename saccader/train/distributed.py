"""Data-parallel training under ``torchrun`` (one process per device, DDP).

``torchrun --standalone --nproc_per_node=N -m saccader.train.cli train STAGE ...`` sets RANK,
WORLD_SIZE and LOCAL_RANK; ``setup`` then starts the process group (nccl on CUDA, gloo on CPU).
Without those variables everything runs in one process. Only rank 0 logs and writes files.

``TrainSampler`` is a ``DistributedSampler`` that can start in the middle of an epoch (resume).
Its permutation depends only on (seed, epoch), and rank r takes positions r, r + W, r + 2W, ...,
so the union of the ranks' k-th batches is exactly the k-th batch of a single process with the
same global batch: a run on W processes trains on the same images, step for step, as a run on one.
``eval_shard`` splits the evaluation set without padding, so every image is counted exactly once.
With ``sync_bn`` the batch norms see the statistics of the whole global batch
(``convert_sync_batchnorm``: ``nn.SyncBatchNorm`` on GPUs, ``CPUSyncBatchNorm`` on CPU).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DistributedSampler


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto" -> cuda:<local_rank> when CUDA is available, else cpu."""
    if name in ("auto", "", None):
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={name!r} but CUDA is not available; use --set device=cpu")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    return dev


def setup(device: str = "auto") -> DistInfo:
    """Start the process group when launched by torchrun (WORLD_SIZE > 1); return who we are."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                **({"device_id": dev} if dev.type == "cuda" else {}))
    if dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def cleanup() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (in place; returns ``t``). No-op in a single process."""
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= dist.get_world_size()
    return t


def all_gather_object(obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] (a one-element list in a single process)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are computed over the whole global batch (all ranks),
    like ``nn.SyncBatchNorm``, but also on CPU (gloo), where ``nn.SyncBatchNorm`` refuses to run.

    The per-channel sum, sum of squares and count are summed over ranks with the differentiable
    ``torch.distributed.nn.all_reduce``, so the gradient is that of the global-batch loss (as with
    ``nn.SyncBatchNorm``). Outside training, or in a single process, it is a plain batch norm.
    """

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        # two passes (mean, then squared deviations): E[x^2] - E[x]^2 cancels catastrophically in
        # float32 when the variance is small against the mean (e.g. after a zero-initialized gamma)
        total = all_reduce(torch.cat([xf.sum(dims), xf.new_tensor([xf.numel() // c])]))
        n = total[-1]
        mean = total[:c] / n
        shape = [1, c] + [1] * (x.dim() - 2)
        var = all_reduce((xf - mean.view(shape)).square().sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Batch norms synchronized over ranks: ``nn.SyncBatchNorm`` on GPUs, ``CPUSyncBatchNorm`` on CPU.
    Parameters, buffers and state-dict keys are kept."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        new = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        new_child = convert_sync_batchnorm(child, device)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


class TrainSampler(DistributedSampler):
    """``DistributedSampler`` (shuffle, drop_last) whose epoch can start at batch ``start_batch``.

    ``set_epoch(epoch, start_batch)`` before each epoch. Yields this rank's indices from position
    ``start_batch * batch_size`` on, and only whole batches of ``batch_size`` (per rank).
    """

    def __init__(self, dataset, batch_size: int, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        super().set_epoch(epoch)
        self.start_batch = start_batch

    def batches_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    def __iter__(self):
        indices = list(super().__iter__())
        end = self.batches_per_epoch() * self.batch_size
        return iter(indices[self.start_batch * self.batch_size:end])

    def __len__(self) -> int:
        return (self.batches_per_epoch() - self.start_batch) * self.batch_size

    def state_dict(self) -> dict:
        return {"seed": int(self.seed), "epoch": int(self.epoch), "start_batch": int(self.start_batch),
                "num_replicas": int(self.num_replicas)}


def eval_shard(n: int, rank: int, world_size: int) -> list[int]:
    """Indices of an n-image evaluation set for this rank: rank, rank + W, ... (no padding)."""
    return list(range(rank, n, world_size))


__all__ = ["CPUSyncBatchNorm", "convert_sync_batchnorm", "DistInfo", "setup", "cleanup", "barrier", "all_reduce_sum", "all_reduce_mean", "all_gather_object",
           "broadcast_object", "resolve_device", "TrainSampler", "eval_shard"]
