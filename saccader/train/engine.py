"""One training engine for every stage (torchvision ``references/classification`` layout).

``main(cfg)`` builds the stage's model and data, resumes from ``<run_dir>/checkpoint.pt`` when it
exists (auto-resume), then alternates ``train_one_epoch`` and ``evaluate`` until ``cfg.steps`` (or
``cfg.epochs``) are done, and ends with an evaluation on the validation split and on the held-out
test split, written to ``metrics.json``.

What a run directory holds:

* ``config.yaml``: the resolved config; ``provenance.json``: commit, versions, device, argv, seed;
* ``log.jsonl``: one JSON object per line (``type`` "start"/"resume"/"train"/"eval"/"end"; train
  lines carry step, epoch, loss and the stage's metrics, lr and images/s);
* ``checkpoint.pt``: the latest checkpoint (every ``ckpt_every_steps`` and at the end), with the
  checksum of its weights (``model_sha256``, checked whenever it is loaded);
* ``metrics.json``: the final evaluation and ``model_sha256`` (written last: its presence means the
  run finished; lost, it is written again from the finished checkpoint);
* ``.lock``: held by the training process (rank 0) while it runs; a second one is refused.

Every file is written atomically (tmp file, fsync, ``os.replace``). A start that fails before its
first step (building the model or the data) removes the files it created; a restart without a
checkpoint empties ``log.jsonl`` (the killed attempt's lines are redone, not repeated).

On a GPU: bf16 autocast, channels_last and, optionally, ``torch.compile``. Under ``torchrun``
(``distributed.py``) rank 0 alone logs and writes; every rank holds an equal share of each global
batch; evaluation counts every image exactly once.

Determinism: the order of the training images depends only on (seed, epoch) and the flips of the
embedded data set on (seed, epoch, step, rank); the checkpoints hold every RNG state. A run killed
and resumed on the same machine therefore ends with bit-identical weights on CPU.
"""
from __future__ import annotations

import json
import math
import random
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from saccader import losses
from saccader.train import checkpoint as ckpt
from saccader.train import distributed
from saccader.train.config import ConfigError, TrainConfig, config_hash
from saccader.train.batches import (  # noqa: F401  (build_split and _prepare: used by the evaluation)
    Data, _mix, _prepare, build_split, eval_batches, load_data, train_batches)
from saccader.train.distributed import DistInfo
from saccader.train.preflight import preflight
from saccader.train.stages import Stage, get_stage


# ------------------------------------------------------------------------------------------------
# logging
# ------------------------------------------------------------------------------------------------

class JsonlLogger:
    """Appends one JSON object per line to ``log.jsonl`` (rank 0 only), and optionally mirrors the
    numbers to TensorBoard."""

    def __init__(self, path: Path, enabled: bool = True, tensorboard: bool = False):
        self.path = Path(path)
        self.enabled = enabled
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("tensorboard=true needs the tensorboard package: pip install tensorboard") from None
            self.tb = SummaryWriter(str(self.path.parent / "tensorboard"))

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.tb is not None and "step" in record:
            kind = record.get("type", "log")
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("time", "step", "epoch"):
                    self.tb.add_scalar(f"{kind}/{key}", value, record["step"])

    def truncate_after(self, step: int) -> None:
        """Drop the lines a killed run wrote after its last checkpoint (they are replayed)."""
        if not self.enabled or not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill
            if rec.get("step", 0) <= step:
                keep.append(line)
        ckpt.write_atomic(self.path, "".join(line + "\n" for line in keep))

    def reset(self) -> None:
        """Empty the log of an attempt killed before its first checkpoint (the run starts over)."""
        if self.enabled and self.path.exists():
            ckpt.write_atomic(self.path, "")

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def print0(info: DistInfo, *args, **kwargs) -> None:
    if info.is_main:
        print(*args, **kwargs, flush=True)


def _input_size(tr: "Trainer") -> int | None:
    return tr.data.image_size if tr.stage.resize_input else None


# ------------------------------------------------------------------------------------------------
# optimizer and schedule
# ------------------------------------------------------------------------------------------------

def build_optimizer(cfg: TrainConfig, net: nn.Module, params: list) -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW over ``params``. With weight_decay_mode "standard" the decay goes to
    the parameters of the official L2 filter (weights and norm gammas/betas, not layer biases)."""
    if not params:
        raise ConfigError(f"stage {cfg.stage!r} has no trainable parameters")
    groups = [{"params": params, "weight_decay": 0.0}]
    if cfg.weight_decay_mode == "standard" and cfg.weight_decay > 0:
        decay_ids = {id(p) for p in losses.l2_parameters(net)}
        decay = [p for p in params if id(p) in decay_ids]
        rest = [p for p in params if id(p) not in decay_ids]
        groups = [g for g in ({"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": rest, "weight_decay": 0.0}) if g["params"]]
    if cfg.optimizer in ("sgd-nesterov", "sgd"):
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.optimizer == "sgd-nesterov")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=0.0)


def lr_factor(step: int, total: int, warmup: int, schedule: str = "cosine", min_ratio: float = 0.0) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total`` steps
    (the official ``cosine_decay_with_warmup``), or constant."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(cfg: TrainConfig, optimizer, total_steps: int, steps_per_epoch: int):
    warmup = cfg.warmup_steps + int(round(cfg.warmup_epochs * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, cfg.schedule, cfg.min_lr_ratio))


# ------------------------------------------------------------------------------------------------
# train / evaluate
# ------------------------------------------------------------------------------------------------

def resolve_amp(cfg: TrainConfig, device: torch.device) -> str:
    amp = cfg.amp
    if amp == "auto":
        amp = "bf16" if device.type == "cuda" else "none"
    return amp


def autocast(amp: str, device: torch.device):
    if amp == "none":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


@dataclass
class Trainer:
    """What ``train_one_epoch`` and ``evaluate`` need, built once by ``main``."""

    cfg: TrainConfig
    info: DistInfo
    stage: Stage
    net: nn.Module  # the plain module
    model: nn.Module  # what the training forward calls (DDP-wrapped and/or compiled)
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    data: Data
    logger: JsonlLogger
    amp: str
    channels_last: bool
    total_steps: int
    steps_per_epoch: int
    run_dir: Path
    state: dict  # step, epoch, batch_in_epoch, train_seconds

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, finished: bool = False, metrics: dict | None = None) -> None:
        """Every rank passes here (RNG states are gathered); rank 0 writes; then a barrier."""
        from saccader.train.cache import code_version

        rngs = distributed.all_gather_object(ckpt.rng_state())
        if self.info.is_main:
            ckpt.save({
                "format": ckpt.FORMAT, "stage": self.cfg.stage, "config": self.cfg.to_dict(),
                "config_hash": config_hash(self.cfg), "code_version": code_version(self.cfg.dataset),
                "model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "step": self.state["step"], "epoch": self.state["epoch"],
                "batch_in_epoch": self.state["batch_in_epoch"], "train_seconds": self.state["train_seconds"],
                "sampler": self.data.sampler.state_dict(), "rng": rngs, "world_size": self.info.world_size,
                "finished": finished, "metrics": metrics or {},
            }, self.run_dir / ckpt.CHECKPOINT_NAME)
        distributed.barrier()

    def restore(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for key in ("step", "epoch", "batch_in_epoch", "train_seconds"):
            self.state[key] = state.get(key, 0)
        rngs = state.get("rng") or []
        if len(rngs) == self.info.world_size:
            ckpt.set_rng_state(rngs[self.info.rank])
        else:
            warnings.warn(f"checkpoint written by {len(rngs)} process(es), resumed by {self.info.world_size}: "
                          "the data order is kept but the random states are re-seeded")
            seed_everything(_mix(self.cfg.seed, self.state["step"], self.info.rank) % (1 << 31))


def train_one_epoch(tr: Trainer) -> None:
    """Train from the current (epoch, batch) until the epoch ends or ``total_steps`` is reached."""
    cfg, info, st = tr.cfg, tr.info, tr.state
    tr.stage.set_train_mode(tr.net, cfg)
    bar = tqdm(total=tr.steps_per_epoch, initial=st["batch_in_epoch"], desc=f"epoch {st['epoch']}",
               leave=False, dynamic_ncols=True, disable=None if info.is_main else True)
    window, n_window, t_window = {}, 0, time.perf_counter()
    for x, y in train_batches(tr.data, cfg, st["epoch"], st["batch_in_epoch"], info):
        if st["step"] >= tr.total_steps:
            break
        t_step = time.perf_counter()
        x, y = _prepare(x, y, _input_size(tr), info.device, tr.channels_last)
        lr = tr.optimizer.param_groups[0]["lr"]
        with autocast(tr.amp, info.device):
            loss, metrics = tr.stage.loss(tr.model, tr.net, x, y, cfg)
        tr.optimizer.zero_grad(set_to_none=True)
        tr.scaler.scale(loss).backward()
        if cfg.grad_clip > 0:
            tr.scaler.unscale_(tr.optimizer)
            metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(
                [p for g in tr.optimizer.param_groups for p in g["params"]], cfg.grad_clip)
        tr.scaler.step(tr.optimizer)
        tr.scaler.update()
        tr.scheduler.step()
        st["step"] += 1
        st["batch_in_epoch"] += 1
        st["train_seconds"] += time.perf_counter() - t_step
        for key, value in {"loss": loss.detach(), **metrics}.items():
            window[key] = window.get(key, 0.0) + value.detach().float()
        n_window += 1
        bar.update(1)
        if st["step"] % cfg.log_every == 0 or st["step"] == tr.total_steps:
            keys = sorted(window)
            values = distributed.all_reduce_mean(torch.stack([window[k] for k in keys]).to(info.device) / n_window)
            record = dict(zip(keys, values.tolist()))
            if not math.isfinite(record["loss"]):
                raise FloatingPointError(f"loss is {record['loss']} at step {st['step']} of {cfg.run_dir}; lower lr "
                                         f"(now {cfg.lr}) or check the data")
            elapsed = time.perf_counter() - t_window
            tr.logger.log({"type": "train", "stage": cfg.stage, "step": st["step"], "epoch": st["epoch"], **record,
                           "lr": lr, "images_per_s": n_window * cfg.batch_size / max(elapsed, 1e-9)})
            bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{lr:.2e}")
            window, n_window, t_window = {}, 0, time.perf_counter()
        if cfg.ckpt_every_steps and st["step"] % cfg.ckpt_every_steps == 0 and st["step"] < tr.total_steps:
            tr.save()
    bar.close()


@torch.no_grad()
def evaluate(tr: Trainer, dataset: Dataset, split: str) -> dict:
    """The stage's metrics on ``dataset`` (each image counted once over all ranks). Runs under a
    forked RNG seeded from the config, so it neither consumes nor depends on the training RNG."""
    cfg, info, net = tr.cfg, tr.info, tr.net
    if len(dataset) < info.world_size:
        raise ConfigError(f"the {split} split has {len(dataset)} images, fewer than the {info.world_size} processes")
    was_training = net.training
    net.eval()
    sums: dict[str, torch.Tensor] = {}
    devices = [info.device] if info.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(_mix(cfg.seed, 1, info.rank) % (1 << 31))
        for x, y in eval_batches(dataset, tr.data.eval_batch, cfg, info):
            x, y = _prepare(x, y, _input_size(tr), info.device, tr.channels_last)
            with autocast(tr.amp, info.device):
                out = tr.stage.evaluate(net, x, y, cfg)
            for key, value in out.items():
                sums[key] = sums.get(key, 0.0) + value.detach().float().to(info.device)
    keys = sorted(sums)
    totals = distributed.all_reduce_sum(torch.stack([sums[k] for k in keys]))
    totals = dict(zip(keys, totals.tolist()))
    count = totals.pop("count")
    metrics = {k: v / count for k, v in totals.items()}
    metrics["count"] = int(round(count))
    if was_training:
        tr.stage.set_train_mode(net, cfg)
    return metrics


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def _write_start_files(cfg: TrainConfig, run_dir: Path, info: DistInfo, resumed_step: int | None) -> None:
    """``config.yaml`` and ``provenance.json``, each written atomically. A resume adds its entry to
    the ``resumed`` list of ``provenance.json`` (read, extend, replace: never rewritten in place); a
    missing or torn ``provenance.json`` (or ``config.yaml``) is rebuilt, with a warning: the
    checkpoint being resumed holds the config."""
    import yaml

    from saccader.provenance import provenance
    from saccader.train.cache import code_version

    run_dir.mkdir(parents=True, exist_ok=True)
    prov = provenance(seed=cfg.seed, device=info.device,
                      extra={"world_size": info.world_size, "stage": cfg.stage, "preset": cfg.preset,
                             "config_hash": config_hash(cfg), "code_version": code_version(cfg.dataset)})
    path, cfg_path = run_dir / "provenance.json", run_dir / "config.yaml"
    write_config = resumed_step is None
    if resumed_step is not None:
        first = ckpt.read_json(path)
        if first is None:
            what = "is missing" if not path.exists() else "is torn (not valid JSON)"
            warnings.warn(f"{path} {what}; rebuilt it for this resume from step {resumed_step} (the commit, host and "
                          "command of the first start are lost; the config comes from the checkpoint)")
            first = {**prov, "rebuilt": f"provenance.json {what} when the run resumed from step {resumed_step}; "
                                        "rebuilt then (the fields above describe that resume, not the first start)"}
        if not isinstance(first.get("resumed"), list):
            first["resumed"] = []
        first["resumed"].append({k: prov[k] for k in ("time", "argv", "hostname", "git_commit", "git_dirty",
                                                        "device", "world_size")} | {"step": resumed_step})
        prov = first
        try:
            write_config = not isinstance(yaml.safe_load(cfg_path.read_text()), dict)
        except (OSError, yaml.YAMLError):
            write_config = True
        if write_config:
            warnings.warn(f"{cfg_path} is missing or unreadable; wrote it again from the config of this resume")
    if write_config:
        ckpt.write_atomic(cfg_path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    ckpt.write_atomic(path, json.dumps(prov, indent=2) + "\n")


def _header(cfg: TrainConfig, info: DistInfo, net: nn.Module, tr_params: list, data: Data, total: int, amp: str) -> str:
    from saccader.provenance import git_commit, git_dirty

    n_train = sum(p.numel() for p in tr_params)
    n_all = sum(p.numel() for p in net.parameters())
    lines = [f"saccader train {cfg.stage} | commit {git_commit()}{' (dirty)' if git_dirty() else ''} | "
             f"{info.world_size} process(es) on {info.device} | amp {amp}",
             f"model {cfg.model}: {n_all / 1e6:.3f} M parameters, {n_train / 1e6:.3f} M trained | "
             f"train {len(data.train)} images, {cfg.eval_split} {len(data.eval)}"
             + (f", {cfg.test_split} {len(data.test)}" if data.test is not None else "")
             + f" | {total} steps of {cfg.batch_size} images",
             "config: " + ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items())]
    return "\n".join(lines)


@contextmanager
def cpu_threads(threads: int):
    """torch's intra-op thread count set to ``threads`` inside the block and restored after it
    (``threads`` 0: unchanged). See ``TrainConfig.cpu_threads``."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def main(cfg: TrainConfig) -> dict:
    """Train one stage as configured; returns the final metrics (also in ``metrics.json``). Bad
    input raises ``ConfigError`` before the run folder is touched (``validate``, ``preflight``)."""
    cfg.validate()
    if not cfg.run_dir:
        raise ConfigError("no run directory: pass --run-dir DIR (or --set run_dir=DIR)")
    preflight(cfg)
    info = distributed.setup(cfg.device)
    try:
        # processes on one CPU share its cores: each takes its part of the preset's threads
        threads = max(1, cfg.cpu_threads // info.world_size) if cfg.cpu_threads and info.device.type == "cpu" else 0
        with cpu_threads(threads):
            result = _run(cfg, info)
    except BaseException:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        raise
    distributed.cleanup()
    return result


# what a start writes into the run folder (removed again when that start fails, if it created them)
_START_FILES = ("config.yaml", "provenance.json", "log.jsonl", "tensorboard")


def _run(cfg: TrainConfig, info: DistInfo) -> dict:
    """``_train`` under the run folder's lock, which rank 0 holds for the whole run (a second
    process training into the folder gets ``RunDirInUseError``). A start that fails before its
    first training step removes the files it created, never those of an earlier attempt."""
    from saccader.errors import one_line

    run_dir = Path(cfg.run_dir)
    had_dir = run_dir.exists()
    lock, failure = None, None
    if info.is_main:
        try:
            lock = ckpt.lock_run_dir(run_dir)
        except Exception as err:  # noqa: BLE001 -- re-raised below, after telling the other ranks
            failure = err
    if info.distributed:  # every rank stops when rank 0 could not take the lock
        msg = distributed.broadcast_object(one_line(failure) if failure is not None else None)
        if failure is None and msg is not None:
            failure = ckpt.RunDirInUseError(f"rank 0 could not lock the run folder: {msg}")
    if failure is not None:
        raise failure
    had = {name for name in _START_FILES if (run_dir / name).exists()} if info.is_main else set()
    progress = {"started": False}
    try:
        return _train(cfg, info, run_dir, progress)
    except BaseException:
        if info.is_main and not progress["started"]:
            _remove_start_files(run_dir, had)
        raise
    finally:
        if lock is not None:
            lock.release()
        if info.is_main and not had_dir:
            try:
                run_dir.rmdir()  # only when empty: the folder of a start that failed before writing anything
            except OSError:
                pass


def _remove_start_files(run_dir: Path, had: set[str]) -> None:
    import shutil

    for name in _START_FILES:
        path = run_dir / name
        if name in had or not path.exists():
            continue
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except OSError:
            pass


def _train(cfg: TrainConfig, info: DistInfo, run_dir: Path, progress: dict) -> dict:
    stage = get_stage(cfg.stage)
    ckpt_path = run_dir / ckpt.CHECKPOINT_NAME
    resume = None
    if ckpt_path.exists():
        resume = ckpt.load(ckpt_path)
        ckpt.check_compatible(resume, cfg, ckpt_path)
        if resume.get("finished"):
            return _finished(cfg, info, run_dir, resume)

    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    seed_everything(cfg.seed)  # same initial weights on every rank
    net = stage.build(cfg)
    net_cfg = net.cfg
    if info.distributed and cfg.sync_bn:
        net = distributed.convert_sync_batchnorm(net, info.device)
    channels_last = cfg.channels_last == "true" or (cfg.channels_last == "auto" and info.device.type == "cuda")
    net = net.to(info.device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    params = stage.trainable(net, cfg)
    optimizer = build_optimizer(cfg, net, params)
    data = load_data(cfg, net_cfg, info)
    steps_per_epoch = data.sampler.batches_per_epoch()
    total_steps = cfg.steps if cfg.steps > 0 else cfg.epochs * steps_per_epoch
    num_epochs = math.ceil(total_steps / steps_per_epoch)
    scheduler = build_scheduler(cfg, optimizer, total_steps, steps_per_epoch)
    amp = resolve_amp(cfg, info.device)
    scaler = torch.amp.GradScaler(info.device.type, enabled=amp == "fp16")
    model = net
    if info.distributed:
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[info.device.index] if info.device.type == "cuda" else None)
    if cfg.compile:
        model = torch.compile(model)
    logger = JsonlLogger(run_dir / "log.jsonl", enabled=info.is_main, tensorboard=cfg.tensorboard)
    tr = Trainer(cfg, info, stage, net, model, optimizer, scheduler, scaler, data, logger, amp, channels_last,
                 total_steps, steps_per_epoch, run_dir, {"step": 0, "epoch": 0, "batch_in_epoch": 0, "train_seconds": 0.0})
    if info.is_main:  # only now that the model and the data are built: a failed start leaves no files
        _write_start_files(cfg, run_dir, info, resume["step"] if resume else None)
    distributed.barrier()
    print0(info, _header(cfg, info, net, params, data, total_steps, amp))
    if resume is not None:
        tr.restore(resume)
        logger.truncate_after(tr.state["step"])
        logger.log({"type": "resume", "step": tr.state["step"], "epoch": tr.state["epoch"]})
        print0(info, f"resumed from {ckpt_path} at step {tr.state['step']} (epoch {tr.state['epoch']})")
        del resume
    else:
        seed_everything(cfg.seed + info.rank)  # per-rank sampling noise
        logger.reset()  # no checkpoint: what an earlier attempt logged is not replayed, it is redone
        logger.log({"type": "start", "stage": cfg.stage, "step": 0, "config_hash": config_hash(cfg),
                    "total_steps": total_steps, "world_size": info.world_size})
    progress["started"] = True

    epochs_bar = tqdm(total=num_epochs, initial=tr.state["epoch"], desc=f"{cfg.stage}", dynamic_ncols=True,
                      disable=None if info.is_main else True)
    while tr.state["step"] < total_steps:
        train_one_epoch(tr)
        if tr.state["batch_in_epoch"] >= steps_per_epoch:
            tr.state["epoch"] += 1
            tr.state["batch_in_epoch"] = 0
            epochs_bar.update(1)
            if cfg.eval_every and tr.state["epoch"] % cfg.eval_every == 0 and tr.state["step"] < total_steps:
                metrics = evaluate(tr, data.eval, cfg.eval_split)
                logger.log({"type": "eval", "split": cfg.eval_split, "step": tr.state["step"],
                            "epoch": tr.state["epoch"], **metrics})
                epochs_bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k.startswith("acc")})
    epochs_bar.close()

    tr.save()  # the trained weights, before the (possibly long) final evaluation
    result = {"stage": cfg.stage, "model": cfg.model, "config_hash": config_hash(cfg), "step": tr.state["step"],
              "epochs": tr.state["step"] / steps_per_epoch, "train_seconds": round(tr.state["train_seconds"], 3),
              "world_size": info.world_size}
    for split, ds in ((cfg.eval_split, data.eval), (cfg.test_split, data.test)):
        if ds is None:
            continue
        metrics = evaluate(tr, ds, split)
        result[split] = metrics
        logger.log({"type": "eval", "split": split, "step": tr.state["step"], "epoch": tr.state["epoch"],
                    "final": True, **metrics})
        print0(info, f"{cfg.stage} {split}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                          for k, v in metrics.items()))
    result["model_sha256"] = ckpt.weights_checksum(net.state_dict())  # = the checkpoint's model_sha256
    tr.save(finished=True, metrics=result)
    logger.log({"type": "end", "step": tr.state["step"], "train_seconds": result["train_seconds"]})
    logger.close()
    if info.is_main:
        ckpt.write_atomic(run_dir / "metrics.json", json.dumps(result, indent=2) + "\n")
    distributed.barrier()
    return result


def _finished(cfg: TrainConfig, info: DistInfo, run_dir: Path, state: dict) -> dict:
    """A run whose checkpoint says it finished: nothing to train. Its ``metrics.json``, when missing
    or torn, is written again from the final metrics the checkpoint holds."""
    metrics = dict(state.get("metrics") or {})
    if metrics and "model_sha256" not in metrics:
        metrics["model_sha256"] = state.get("model_sha256") or ckpt.weights_checksum(state["model"])
    path = run_dir / "metrics.json"
    if info.is_main and metrics and ckpt.read_json(path) is None:
        ckpt.write_atomic(path, json.dumps(metrics, indent=2) + "\n")
        print0(info, f"{run_dir}: the run had finished but its metrics.json was missing or unreadable; wrote it "
                     f"again from the final metrics stored in {run_dir / ckpt.CHECKPOINT_NAME}")
    print0(info, f"{run_dir}: stage {cfg.stage} already finished at step {state['step']}; nothing to do "
                 f"(use a new --run-dir to train again)")
    return metrics


__all__ = ["main", "train_one_epoch", "evaluate", "load_data", "build_optimizer", "build_scheduler", "lr_factor",
           "JsonlLogger", "Trainer"]
