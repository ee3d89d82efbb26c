"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``, checked against
the run's config before anything is resumed.

A checkpoint is a dict of tensors and plain Python values:

    format, stage, config (resolved, as a dict), config_hash, code_version, model, optimizer,
    scheduler, scaler, step, epoch, batch_in_epoch, sampler, rng (one entry per rank: python,
    numpy, torch CPU and CUDA states), world_size, finished, metrics

``save`` writes ``<path>.tmp`` then ``os.replace``s it onto ``path``: a run killed at any moment
leaves either the previous checkpoint or the new one, never half a file.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from saccader.train.config import TrainConfig, config_diff, config_hash

FORMAT = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (unreadable, or from another config or stage)."""


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
    """Write ``state`` to ``path`` atomically (tmp file in the same folder + fsync + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``; an unreadable file raises ``CheckpointError``
    naming the file."""
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
    return state


def resolve_path(path: str | Path) -> Path:
    """A run directory or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    return path


def check_compatible(state: dict, cfg: TrainConfig, path: str | Path) -> None:
    """Refuse to resume from a checkpoint written by another stage or another config."""
    want_hash = config_hash(cfg)
    have_hash = state.get("config_hash")
    if state.get("stage") == cfg.stage and have_hash == want_hash:
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


__all__ = ["FORMAT", "CHECKPOINT_NAME", "CheckpointError", "rng_state", "set_rng_state", "save", "load",
           "resolve_path", "check_compatible", "model_state"]
