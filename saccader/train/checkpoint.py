"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``, checked against
the run's config before anything is resumed.

A checkpoint is a dict of tensors and plain Python values:

    format, stage, config (resolved, as a dict), config_hash, code_version, model, optimizer,
    scheduler, scaler, step, epoch, batch_in_epoch, sampler, rng (one entry per rank: python,
    numpy, torch CPU and CUDA states), world_size, finished, metrics, model_sha256

``save`` writes ``<path>.tmp`` then ``os.replace``s it onto ``path``: a run killed at any moment
leaves either the previous checkpoint or the new one, never half a file. ``save`` records
``model_sha256`` (:func:`weights_checksum` of the model state dict) and ``load`` recomputes it:
weights altered after they were written (a flipped bit on disk or in a copy; ``torch.load`` does
not check the archive's CRC) raise ``CheckpointError`` instead of being trained or evaluated on.

The run folder is guarded by :func:`lock_run_dir` (an ``flock`` on ``<run_dir>/.lock``): one
training process at a time; :func:`write_atomic` writes the folder's small files.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import random
import socket
import warnings
from pathlib import Path

import numpy as np
import torch

from saccader.errors import UserError
from saccader.train.config import TrainConfig, config_diff, config_hash

try:  # POSIX; elsewhere the run folder is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (unreadable, damaged, or from another config or stage)."""


class RunDirInUseError(UserError, RuntimeError):
    """The run folder is held by another training process (see :func:`lock_run_dir`)."""


# ------------------------------------------------------------------------------------------------
# files of a run folder
# ------------------------------------------------------------------------------------------------

def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a tmp file in the same folder, fsync, ``os.replace``.
    A process killed at any moment leaves the old file or the new one, never a torn one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def read_json(path: str | Path) -> dict | None:
    """The JSON object in ``path``; None when the file is missing, torn or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every OS/file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


LOCK_NAME = ".lock"


class RunDirLock:
    """An exclusive ``flock`` on ``<run_dir>/.lock``, held until :meth:`release` (or the process
    ends: the OS drops the lock of a killed process). The file names the holder (pid, host, time);
    it is removed on release, while still locked, so a later process never locks a stale inode."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> "RunDirLock":
        if fcntl is None or self.fd is not None:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunDirInUseError(
                    f"run folder {self.run_dir} is in use by another training process ({holder}); wait for it "
                    f"to finish (or stop it), or pass another --run-dir") from None
            except OSError:
                os.close(fd)  # a file system without flock: train unlocked, as before
                return self
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released (and removed) the file meanwhile: lock the new one
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)  # closing drops the lock
        self.fd = None

    def __enter__(self) -> "RunDirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def lock_run_dir(run_dir: str | Path) -> RunDirLock:
    """Take the run folder's lock (creating the folder), or raise ``RunDirInUseError`` naming the
    process that holds it."""
    return RunDirLock(run_dir).acquire()


# ------------------------------------------------------------------------------------------------
# weights checksum
# ------------------------------------------------------------------------------------------------

def weights_checksum(state_dict: dict) -> str:
    """sha256 (hex) of a model state dict: over its entries sorted by name, each name, dtype, shape
    and the raw bytes of the tensor made contiguous on the CPU. The same weights give the same
    checksum in any process, on any device and in any memory format (channels_last)."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        value = state_dict[name]
        h.update(str(name).encode() + b"\0")
        if isinstance(value, torch.Tensor):
            t = value.detach()
            if t.is_quantized:
                t = t.int_repr()
            t = t.to("cpu").resolve_conj().resolve_neg().contiguous()
            h.update(f"{t.dtype}|{tuple(t.shape)}".encode() + b"\0")
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(b"object|" + repr(value).encode())
        h.update(b"\0")
    return h.hexdigest()


_WARNED_NO_CHECKSUM: set[str] = set()


def verify_weights(state: dict, path: str | Path) -> None:
    """Refuse a checkpoint whose weights no longer match the checksum recorded when it was written.
    A checkpoint of an older version (no checksum) is accepted, with one warning per file."""
    want = state.get("model_sha256")
    if want is None:
        key = os.path.realpath(path)
        if key not in _WARNED_NO_CHECKSUM:
            _WARNED_NO_CHECKSUM.add(key)
            warnings.warn(f"checkpoint {path} holds no weights checksum (written before checksums were recorded): "
                          "its weights cannot be checked for damage", stacklevel=3)
        return
    have = weights_checksum(state["model"])
    if have != want:
        raise CheckpointError(
            f"checkpoint {path} is damaged: its weights changed after it was written (their sha256 is "
            f"{have[:16]}..., the checkpoint recorded {str(want)[:16]}...), e.g. a bit flipped on the disk or in a "
            f"copy. Restore {path} from an intact copy, or delete it (or its whole run folder {Path(path).parent}) "
            "and train the run again.")


# ------------------------------------------------------------------------------------------------
# RNG states as tensors and plain types (so that weights_only loading works)
# ------------------------------------------------------------------------------------------------

def rng_state() -> dict:
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ------------------------------------------------------------------------------------------------
# save / load
# ------------------------------------------------------------------------------------------------

def save(state: dict, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (tmp file in the same folder + fsync + os.replace),
    with the checksum of its weights (``model_sha256``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(state.get("model"), dict):
        state = {**state, "model_sha256": weights_checksum(state["model"])}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def load(path: str | Path, map_location="cpu", verify: bool = True) -> dict:
    """Load a checkpoint with ``weights_only=True``; an unreadable file, or one whose weights do
    not match their recorded checksum (``verify``), raises ``CheckpointError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # zip errors, unpickling errors, EOF, truncated storages
        raise CheckpointError(
            f"checkpoint {path} is corrupted or truncated and cannot be read ({type(exc).__name__}: {exc}). "
            f"Delete it (the run then starts over) or restore it from a copy.") from None
    if not isinstance(state, dict) or "model" not in state or "stage" not in state:
        raise CheckpointError(f"checkpoint {path} is not a saccader training checkpoint (no 'model'/'stage' entries)")
    if verify:
        verify_weights(state, path)
    return state


def resolve_path(path: str | Path) -> Path:
    """A run directory or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    return path


def check_compatible(state: dict, cfg: TrainConfig, path: str | Path) -> None:
    """Refuse to resume from a checkpoint written by another stage or another config. (A checkpoint
    written before the hash saw paths canonically also matches the config spelled as it was then.)"""
    want_hash = config_hash(cfg)
    have_hash = state.get("config_hash")
    if state.get("stage") == cfg.stage and have_hash in (want_hash, config_hash(cfg, canonical_paths=False)):
        return
    diff = config_diff(state.get("config", {}), cfg.to_dict())
    details = "; ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, a, b in ((k, *v) for k, v in diff.items()))
    raise CheckpointError(
        f"checkpoint {path} was written by stage {state.get('stage')!r} with config hash {have_hash}, "
        f"but this run is stage {cfg.stage!r} with config hash {want_hash}"
        + (f" (differences: {details})" if details else "")
        + ". Pass a new --run-dir for this config, or re-run with the config that wrote the checkpoint "
          f"(saved in {Path(path).parent / 'config.yaml'}).")


def model_state(state_or_path) -> tuple[dict, str, dict]:
    """(model state dict, stage, config dict) of a checkpoint (dict, run dir or file)."""
    if not isinstance(state_or_path, dict):
        state_or_path = load(resolve_path(state_or_path))
    return state_or_path["model"], state_or_path["stage"], state_or_path.get("config", {})


__all__ = ["FORMAT", "CHECKPOINT_NAME", "LOCK_NAME", "CheckpointError", "RunDirInUseError", "RunDirLock",
           "lock_run_dir", "write_atomic", "read_json", "weights_checksum", "verify_weights", "rng_state",
           "set_rng_state", "save", "load", "resolve_path", "check_compatible", "model_state"]
