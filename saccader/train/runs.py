"""Trained stages on demand, for the notebooks: ``get_trained(stage, preset)``.

A run is reused only when (1) its directory name carries the hash of the same resolved config,
(2) it was trained by the same code (``code_version``: a hash of the source files that shape
training: models, geometry, losses, data, train) and (3) it finished (``metrics.json`` present;
a finished checkpoint whose ``metrics.json`` was lost has it written again, and a torn
``provenance.json`` is rebuilt from the checkpoint, each with a line saying so).
Otherwise it is trained now, after its prerequisite stages (themselves through ``get_trained``),
and a line says why. A run of older code is moved aside (``<dir>.stale-<code>``), never reused.
Two processes that ask for the same missing run (two notebooks of the book side by side) do not
both train it: the second waits for the first (``<runs>/<preset>/.<run>.get-lock``), then reuses it.

    from saccader.train.runs import get_trained
    run = get_trained("policy", "tiny")        # trains representation -> location -> policy if needed
    run.metrics["test"]["acc"], run.checkpoint
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from saccader.train import cache
from saccader.train.cache import planned_run
from saccader.train.config import TrainConfig


@dataclass
class RunResult:
    run_dir: Path
    checkpoint: Path
    config: TrainConfig
    metrics: dict


def _log(msg: str) -> None:
    print(f"[saccader cache] {msg}", flush=True)


def _read_json(path: Path) -> dict | None:
    from saccader.train.checkpoint import read_json

    return read_json(path)


def _checkpoint_head(run_dir: Path) -> dict | None:
    """The checkpoint of ``run_dir`` read lazily (``mmap``: the tensors are not read), or None."""
    import torch

    path = run_dir / "checkpoint.pt"
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable: the engine says so when it resumes
        return None
    return state if isinstance(state, dict) else None


def _repair_provenance(run_dir: Path) -> dict | None:
    """Rebuild a missing or torn ``provenance.json`` of a run from its checkpoint (which holds the
    config and the code version); returns the new provenance, or None without a usable checkpoint."""
    from saccader.train import checkpoint as ckpt

    state = _checkpoint_head(run_dir)
    if state is None:
        return None
    cfg = state.get("config") or {}
    prov = {"rebuilt": "provenance.json was missing or unreadable; rebuilt from checkpoint.pt (the commit, "
                       "host and command of the original run are unknown)",
            "seed": cfg.get("seed"), "world_size": state.get("world_size"), "stage": state.get("stage"),
            "preset": cfg.get("preset"), "config_hash": state.get("config_hash"),
            "code_version": state.get("code_version")}
    ckpt.write_atomic(run_dir / "provenance.json", json.dumps(prov, indent=2) + "\n")
    _log(f"{run_dir / 'provenance.json'} was unreadable or missing: rebuilt it from the run's checkpoint")
    return prov


def _repair_metrics(run_dir: Path) -> dict | None:
    """Write a finished run's missing (or torn) ``metrics.json`` again from its checkpoint, which
    holds the final metrics; returns them, or None when the checkpoint is not of a finished run."""
    from saccader.train import checkpoint as ckpt

    head = _checkpoint_head(run_dir)
    if head is None or not head.get("finished") or not head.get("metrics"):
        return None
    state = ckpt.load(run_dir / ckpt.CHECKPOINT_NAME)  # checks the weights against their checksum
    metrics = dict(state["metrics"])
    metrics.setdefault("model_sha256", state.get("model_sha256") or ckpt.weights_checksum(state["model"]))
    ckpt.write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    _log(f"{run_dir} finished but its metrics.json was missing or unreadable: wrote it again from the final "
         f"metrics stored in its checkpoint")
    return metrics


def _status(run_dir: Path, code: str) -> tuple[str, str]:
    """(state, reason) of a cached run directory; state is "ok", "missing", "stale" or "unfinished".
    A torn ``provenance.json`` is rebuilt from the checkpoint, and a missing ``metrics.json`` of a
    finished run is written again from the checkpoint's final metrics (each with a line saying so)."""
    if not run_dir.exists():
        return "missing", "no cached run"
    prov = run_dir / "provenance.json"
    info = _read_json(prov)
    if info is None and (prov.exists() or (run_dir / "checkpoint.pt").exists()):
        info = _repair_provenance(run_dir)
    have = info.get("code_version") if info else None
    if info is None:
        return "stale", "the cached run has neither a readable provenance.json nor a readable checkpoint"
    if have != code:
        return "stale", f"the cached run was trained by other code (code version {have}, now {code})"
    if _read_json(run_dir / "metrics.json") is None and _repair_metrics(run_dir) is None:
        return "unfinished", "the cached run did not finish (resuming it)"
    return "ok", "cached"


def _needs_training(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether :func:`get_trained` would train ``run_dir``: missing, unfinished, or of other code."""
    return _status(run_dir, cache.code_version(cfg.dataset))[0] != "ok"


@contextlib.contextmanager
def _one_trainer(run_dir: Path, verbose: bool):
    """Held while a process decides whether ``run_dir`` needs training and trains it: a second
    process asking for the same run waits here (a blocking ``flock``; where the file system has
    none, nothing waits and the engine's own lock refuses a second trainer)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir.parent / f".{run_dir.name}.get-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if verbose:
                _log(f"waiting: another process is training or checking {run_dir}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # no flock here
        yield
    finally:
        os.close(fd)  # drops the lock


def get_trained(stage: str, preset: str = "tiny", overrides: dict | None = None, runs_root: str | Path | None = None,
                chain_overrides: dict | None = None, verbose: bool = True) -> RunResult:
    """The finished run of ``stage`` under ``preset``: cached, or trained now (with its prerequisites).

    overrides: config keys for this stage only (but its ``data_dir`` is also its prerequisites': one
    data folder for a chain). chain_overrides: keys applied to this stage *and*
    every prerequisite (e.g. ``{"seed": 1}`` or ``{"max_train_images": 512}``). Keys that a
    stage's config does not have raise ``ConfigError``. The run is :func:`planned_run`'s.
    """
    from saccader.train import engine
    from saccader.train.stages import required_stage

    from saccader import paths

    runs_root = Path(runs_root) if runs_root is not None else paths.runs_dir()
    run_dir, cfg = planned_run(stage, preset, overrides, chain_overrides, runs_root)
    group = _TOGETHER[-1] if _TOGETHER else None
    if group and group["preset"] == preset and not group["done"] and _needs_training(run_dir, cfg):
        group["done"] = True  # once per block (the runs it trains find no group left to start)
        train_runs(preset, group["runs"], runs_root=runs_root)
    need = required_stage(cfg)
    if need is not None:  # trains (or finds) the prerequisite run that cfg.init_from names
        get_trained(need, preset, runs_root=runs_root, chain_overrides=cache.chain_of(overrides, chain_overrides),
                    verbose=verbose)
    code = cache.code_version(cfg.dataset)  # looked up at call time, as the engine does
    with _one_trainer(run_dir, verbose):
        state, reason = _status(run_dir, code)
        if state != "ok":
            if state == "stale":
                stale = run_dir.with_name(f"{run_dir.name}.stale-{code}")
                if stale.exists():
                    shutil.rmtree(stale)
                run_dir.rename(stale)
                reason += f"; moved the old run to {stale}"
            if verbose:
                _log(f"training {stage} ({preset}) in {run_dir}: {reason}")
            engine.main(cfg)
        elif verbose:
            _log(f"using cached {stage} ({preset}) run {run_dir}")
    metrics = _read_json(run_dir / "metrics.json")
    if metrics is None:
        metrics = _repair_metrics(run_dir)
    if metrics is None:
        raise FileNotFoundError(f"{run_dir} holds no metrics.json after training and its checkpoint no final metrics; "
                                f"delete the folder {run_dir} and call get_trained again to retrain the run")
    return RunResult(run_dir=run_dir, checkpoint=run_dir / "checkpoint.pt", config=cfg, metrics=metrics)


# every run the evaluation reads, in training order ({name: (stage, overrides)}): each after its prerequisite
CHAIN_RUNS = {"representation": ("representation", {}), "location": ("location", {}), "policy": ("policy", {}),
              "policy_no_pretraining": ("policy", {"init_location": "scratch"}), "classnet": ("classnet", {}),
              "dram": ("dram", {}), "fullimage": ("fullimage", {})}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def parallel_jobs(cfgs) -> int:
    """How many of the runs of ``cfgs`` (``TrainConfig``) train side by side: the usable cores
    divided by their thread count (``cpu_threads``; 0 takes every core), and 1 when one of
    them trains on a GPU."""
    from saccader.train.distributed import resolve_device

    cfgs = list(cfgs)
    if not cfgs or any(resolve_device(c.device).type != "cpu" for c in cfgs):
        return 1
    threads = max(c.cpu_threads for c in cfgs)
    return 1 if threads <= 0 else max(1, usable_cores() // threads)


@dataclass
class _Planned:
    stage: str
    overrides: dict
    chain: dict
    cfg: TrainConfig
    needs: Path | None  # the run dir of the prerequisite run


def _plan(preset: str, runs, runs_root: Path) -> dict[Path, _Planned]:
    """{run_dir: planned run} of ``runs`` and of their prerequisites, prerequisites first."""
    from saccader.train.stages import required_stage

    plan: dict[Path, _Planned] = {}

    def add(stage, overrides, chain) -> Path:
        run_dir, cfg = planned_run(stage, preset, overrides, chain, runs_root)
        if run_dir in plan:
            return run_dir
        need = required_stage(cfg)
        needs = add(need, {}, cache.chain_of(overrides, chain)) if need is not None else None
        plan[run_dir] = _Planned(stage, dict(overrides or {}), dict(chain or {}), cfg, needs)
        return run_dir

    for stage, overrides, chain in runs:
        add(stage, overrides, chain)
    return plan


def _train_one(stage: str, preset: str, overrides: dict, chain: dict, runs_root: str) -> float:
    """Train (or find) one run in this process; return the wall seconds (a child of ``train_runs``)."""
    import time

    start = time.perf_counter()
    get_trained(stage, preset, overrides=overrides, runs_root=runs_root, chain_overrides=chain)
    return time.perf_counter() - start


def train_runs(preset: str, runs, jobs: int | None = None, runs_root: str | Path | None = None) -> list[dict]:
    """Train the missing runs of ``runs`` ([(stage, overrides, chain_overrides)]) and their
    prerequisites, ``jobs`` at a time (None: :func:`parallel_jobs`, 2 for the tiny preset on 2
    cores), each in its own process with the preset's thread count, so that their weights are
    those :func:`get_trained` gives in any process. A run starts once its prerequisite has
    finished; among the runs ready to start, those that others wait for go first, then the longest
    (most epochs). Finished runs are not touched. Returns one row per run trained: run folder,
    stage and wall seconds."""
    import time
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    import multiprocessing

    from saccader import paths

    runs_root = Path(runs_root) if runs_root is not None else paths.runs_dir()
    plan = _plan(preset, runs, runs_root)
    todo = {d: p for d, p in plan.items() if _needs_training(d, p.cfg)}
    if not todo:
        return []
    jobs = parallel_jobs(p.cfg for p in todo.values()) if jobs is None else max(1, int(jobs))
    waiting_on = {d: (p.needs if p.needs in todo else None) for d, p in todo.items()}

    def dependents(d: Path) -> int:
        direct = [e for e, n in waiting_on.items() if n == d]
        return len(direct) + sum(dependents(e) for e in direct)

    order = {d: (-dependents(d), -todo[d].cfg.epochs) for d in todo}
    rows = []
    if jobs == 1 or len(todo) == 1:
        for d, p in todo.items():  # prerequisites first
            rows.append({"run_dir": d.name, "stage": p.stage,
                         "seconds": round(_train_one(p.stage, preset, p.overrides, p.chain, str(runs_root)), 1)})
        return rows
    _log(f"training {len(todo)} runs of {preset}, {jobs} at a time, each in its own process")
    start = time.perf_counter()
    finished: set[Path] = set()
    running = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while len(finished) < len(todo):
            ready = sorted((d for d in todo if d not in finished and d not in running.values()
                            and (waiting_on[d] is None or waiting_on[d] in finished)), key=order.get)
            for d in ready[:jobs - len(running)]:
                p = todo[d]
                running[pool.submit(_train_one, p.stage, preset, p.overrides, p.chain, str(runs_root))] = d
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                d = running.pop(fut)
                try:
                    seconds = fut.result()
                except Exception as err:
                    for other in running:
                        other.cancel()
                    raise RuntimeError(f"training the {todo[d].stage} run {d} failed: {type(err).__name__}: {err}. "
                                       "The runs that finished are kept; the same call resumes the rest") from err
                finished.add(d)
                rows.append({"run_dir": d.name, "stage": todo[d].stage, "seconds": round(seconds, 1)})
    _log(f"trained {len(todo)} runs of {preset} in {time.perf_counter() - start:.0f} s ({jobs} at a time)")
    return rows


# the groups of runs that ``train_together`` trains at the first missing one, innermost last
_TOGETHER: list[dict] = []


@contextlib.contextmanager
def train_together(preset: str, runs):
    """Inside the block, the first :func:`get_trained` of ``preset`` that finds its run missing
    first trains every missing run of ``runs`` ([(stage, overrides, chain_overrides)]) side by
    side with :func:`train_runs`, then goes on (it finds them trained). A block whose results are
    all reused trains nothing. ``evaluate`` wraps each table it computes in one."""
    _TOGETHER.append({"preset": preset, "runs": list(runs), "done": False})
    try:
        yield
    finally:
        _TOGETHER.pop()


def train_measured(preset: str, runs: dict, out: str | Path, chain_overrides: dict | None = None,
                   runs_root: str | Path | None = None) -> list[dict]:
    """Train ``runs`` ({name: (stage, overrides)}, in order: each after its prerequisites) one per
    child process, and write to ``out`` (``.csv`` and ``.json``) what each cost: its wall seconds,
    the peak resident memory of its process, its training seconds and final validation metrics.
    A run already trained costs only its check (``trained_here`` False)."""
    import csv
    import os
    import subprocess
    import sys
    import time

    from saccader import paths
    from saccader.provenance import provenance

    runs_root = Path(runs_root) if runs_root is not None else paths.runs_dir()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (stage, overrides) in runs.items():
        run_dir, _ = planned_run(stage, preset, overrides, chain_overrides, runs_root)
        trained_before = (run_dir / "metrics.json").exists()
        code = ("import json, sys; from saccader.train.runs import get_trained; "
                "get_trained(sys.argv[1], sys.argv[2], overrides=json.loads(sys.argv[3]), runs_root=sys.argv[4], "
                "chain_overrides=json.loads(sys.argv[5]))")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, stage, preset, json.dumps(overrides or {}),
                                 str(runs_root), json.dumps(chain_overrides or {})])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"training {name} ({stage}, {preset}) failed with exit status "
                               f"{os.waitstatus_to_exitcode(status)}; rerun the same call to resume it")
        metrics = json.loads((run_dir / "metrics.json").read_text())
        val = metrics.get("val") or {}
        rows.append({"run": name, "stage": stage, "run_dir": run_dir.name, "trained_here": not trained_before,
                     "wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                     "train_s": metrics.get("train_seconds"), "epochs": metrics.get("epochs"),
                     "steps": metrics.get("step"), "val_acc": val.get("acc")})
        _log(f"{name}: {rows[-1]}")
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = {"name": out.stem, "preset": preset, "chain_overrides": chain_overrides or {}, **provenance()}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    save_logs({r["run"]: runs_root / preset / r["run_dir"] for r in rows}, out.with_name(f"{out.stem}_logs.jsonl"))
    return rows


def save_logs(run_dirs: dict, out: str | Path, every: int = 50) -> int:
    """The training logs of ``run_dirs`` ({name: run directory}) in one JSON-lines file, each line
    with its run's name (``run``): every line but the training lines, of which every ``every``-th
    step is kept; enough to draw the learning curves (``report.runs.read_log(out)``) once the runs
    themselves are gone. Returns the number of lines written."""
    kept = []
    for name, run_dir in run_dirs.items():
        for line in (Path(run_dir) / "log.jsonl").read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if rec.get("type") == "train" and rec.get("step", 0) % every:
                continue
            kept.append(json.dumps({"run": name, **rec}))
    Path(out).write_text("".join(line + "\n" for line in kept))
    return len(kept)


__all__ = ["CHAIN_RUNS", "get_trained", "parallel_jobs", "RunResult", "save_logs", "train_measured", "train_runs",
           "train_together", "usable_cores"]
