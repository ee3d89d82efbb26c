"""Where a result came from: git commit, dirty flag, library versions, device, command line, host,
time and seed. Written as ``provenance.json`` into every run directory and next to every result."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the working tree, or None outside a git checkout."""
    return _git("rev-parse", "HEAD")


def git_dirty() -> bool | None:
    """True if tracked files under ``saccader/`` differ from the commit (None without git)."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "saccader")
    return None if status is None else bool(status)


def device_description(device=None) -> str:
    import torch

    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.processor() or platform.machine()} x{os.cpu_count()} (torch threads {torch.get_num_threads()})"


def provenance(seed: int | None = None, device=None, extra: dict | None = None) -> dict:
    """A JSON-ready dict describing how and where a result is being produced."""
    import numpy
    import torch

    import saccader

    info = {
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "saccader_version": getattr(saccader, "__version__", None),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "device": device_description(device),
        "argv": list(sys.argv),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    if extra:
        info.update(extra)
    return info


__all__ = ["provenance", "git_commit", "git_dirty", "device_description"]
