"""Results files and their cache: a table of record (``data/results/<preset>/<name>.csv``, or this
machine's ``runs/results/<preset>/<name>.csv``) with a ``.json`` holding its provenance and a key,
reused only while the key matches; the curves table of every method (:func:`get_results`) and its
summaries.
"""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from saccader import paths
from saccader.evaluation.curves import resolve_device
from saccader.evaluation.methods import (
    DEFAULT_SEEDS,
    FULL_IMAGE_METHODS,
    METHODS,
    PRESETS,
    _chain,
    check_method,
    check_preset,
    evaluate_all,
)
from saccader.train.cache import planned_run


# ------------------------------------------------------------------------------------------------
# results files and their provenance
# ------------------------------------------------------------------------------------------------

def write_results(df: pd.DataFrame, preset: str, name: str, config: dict | None = None, seed: int | None = None,
                  root: Path | None = None, key: dict | None = None, device=None) -> Path:
    """Write a tidy result table ``data/results/<preset>/<name>.csv`` and its provenance
    ``<name>.json`` (git commit, environment, date, the settings, and the cache ``key``)."""
    from saccader.provenance import provenance

    out = Path(root or paths.results_dir()) / preset
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"{name}.csv"
    tmp = csv.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(csv)
    meta = {"name": name, "preset": preset, "rows": len(df), "config": config or {}, "key": key or {},
            **provenance(seed=seed, device=device)}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return csv


def read_results(preset: str, name: str, root: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """A result table and its provenance; a clear error when it was never produced."""
    base = Path(root or paths.results_dir()) / preset
    csv, meta = base / f"{name}.csv", base / f"{name}.json"
    if not csv.exists():
        raise FileNotFoundError(f"no results {name!r} for preset {preset!r} at {csv}; produce them with "
                                f"`python -m saccader evaluate --preset {preset}` (or the evaluation notebook)")
    return pd.read_csv(csv), (json.loads(meta.read_text()) if meta.exists() else {})


EVALUATION_DIR = Path(__file__).resolve().parent
PACKAGE = "saccader.evaluation"


def _evaluation_imports(path: Path) -> set[str]:
    """The modules of the evaluation package that the source file ``path`` imports (absolute or
    relative imports, at any depth of the file), by module name (``curves``, or ``__init__`` for
    the package itself)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = ("saccader.evaluation" + (f".{node.module}" if node.module else "")) if node.level == 1 \
                else (node.module or "")
            if base == PACKAGE:  # from saccader.evaluation import x: module x or a name of __init__
                found.add("__init__")
                found.update(a.name for a in node.names if (EVALUATION_DIR / f"{a.name}.py").exists())
            elif base.startswith(PACKAGE + "."):
                found.add(base[len(PACKAGE) + 1:].split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.add("__init__")
                elif alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name[len(PACKAGE) + 1:].split(".")[0])
    return found


def evaluation_modules(module: str) -> list[str]:
    """``module`` (e.g. ``saccader.evaluation.dram_study``) and every module of the evaluation package
    it imports, directly or through the others, sorted: the code a results table computed by
    ``module`` depends on."""
    name = module[len(PACKAGE) + 1:] if module.startswith(PACKAGE + ".") else module
    if not (EVALUATION_DIR / f"{name}.py").exists():
        raise ValueError(f"{module!r} is not a module of {PACKAGE}")
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_evaluation_imports(EVALUATION_DIR / f"{current}.py") - seen)
    return sorted(seen)


def evaluation_code_version(module: str = __name__) -> str:
    """Short hash of how a results table is computed from the trained models: the path (relative to
    the package, e.g. ``evaluation/curves.py``) and the bytes of the module that computes it
    (``module``; default this one, which computes the curves) and of every evaluation module it
    imports (:func:`evaluation_modules`), in sorted order. A change to one of those files makes the
    table stale; a change elsewhere in ``saccader/evaluation/`` (another table's module, the command
    line, the book's helpers) does not. The training code enters the key through ``code_version``."""
    h = hashlib.sha256()
    for name in evaluation_modules(module):
        path = EVALUATION_DIR / f"{name}.py"
        h.update(path.relative_to(EVALUATION_DIR.parent).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def run_weights(run_dir: str | Path) -> str | None:
    """The checksum of a finished local run's weights (``checkpoint.weights_checksum``), or None
    when the run was not trained here. Read from its ``metrics.json`` (``model_sha256``), or
    computed from its checkpoint for runs that predate that entry."""
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.json"
    if not metrics.exists():
        return None
    try:
        sha = json.loads(metrics.read_text()).get("model_sha256")
    except (OSError, json.JSONDecodeError):
        sha = None
    if sha:
        return sha
    from saccader.train import checkpoint

    path = run_dir / checkpoint.CHECKPOINT_NAME
    return checkpoint.weights_checksum(checkpoint.load(path)["model"]) if path.exists() else None


def results_key(preset: str, runs: dict, settings: dict, data_dir: str | None = None, module: str = __name__) -> dict:
    """What a results file must match to be reused: code versions, run config hashes, settings,
    and the weights of the runs. ``runs``: {name: (stage, overrides[, train_seed])} of the runs
    the results come from; ``data_dir``: the ImageNet folder (needed to resolve the imagenet
    preset's configs; not part of the hashes). ``weights``: {name: checksum of the local run's
    weights, None when it is not trained here} (:func:`run_weights`)."""
    from saccader.train.cache import code_version

    hashes, weights, datasets = {}, {}, set()
    for name, (stage, overrides, *seed) in runs.items():
        # the run's folder name: its stage and config hash, chained to the previous stage by name
        # (independent of where the runs folder lies)
        chain = _chain(data_dir, seed[0] if seed else None)
        run_dir, cfg = planned_run(stage, preset, overrides, chain_overrides=chain)
        hashes[name] = run_dir.name
        weights[name] = run_weights(run_dir)
        datasets.add(cfg.dataset)
    dataset = datasets.pop() if len(datasets) == 1 else None
    return {"code_version": code_version(dataset), "evaluation_code": evaluation_code_version(module), "runs": hashes,
            "weights": weights, "settings": json.loads(json.dumps(settings, default=str))}


def stale_reasons(meta: dict, key: dict, weights: bool = True) -> list[str]:
    """Why a results file with provenance ``meta`` does not match ``key`` ([] when it matches).
    ``weights``: also compare the weights of the runs trained here (a run not trained here,
    checksum None, cannot differ); False checks only that the file belongs to this code, these
    run configs and settings."""
    have = meta.get("key")
    if not have:
        return ["its provenance has no cache key"]
    reasons = []
    for part in ("code_version", "evaluation_code"):
        if have.get(part) != key[part]:
            reasons.append(f"{part} changed ({have.get(part)} -> {key[part]})")
    for name, h in key["runs"].items():
        if have.get("runs", {}).get(name) != h:
            reasons.append(f"the {name} run differs (run {have.get('runs', {}).get(name)} -> {h})")
    for name, v in key["settings"].items():
        if have.get("settings", {}).get(name) != v:
            reasons.append(f"setting {name} differs ({have.get('settings', {}).get(name)!r} -> {v!r})")
    if weights:
        for name, sha in key.get("weights", {}).items():
            theirs = have.get("weights", {}).get(name)
            if sha is not None and theirs != sha:
                reasons.append(f"the local {name} run has other weights than the results were computed from "
                               f"({(theirs or 'not recorded')[:12]} -> {sha[:12]})")
    return reasons


COMMITTED, LOCAL, OWN = "committed", "local", "own"  # OWN: the local place, from this machine's runs only


def _reused(df, meta, source, path, reasons, weights, verbose):
    if verbose:
        print(f"[saccader evaluate] using {paths.shown(path)} ({source}: {len(df)} rows, computed {meta.get('time')})",
              flush=True)
        for line in weights:
            print(f"[saccader evaluate]   note: {line}", flush=True)
    df.attrs.update(source=source, path=str(paths.shown(path)), reasons=reasons, weights=weights,
                    commit=meta.get("git_commit"))
    return df


def cached_table(preset: str, name: str, key: Callable[[], dict] | dict, compute: Callable[[], pd.DataFrame],
                 force: bool = False, root: Path | None = None, device=None, verbose: bool = True,
                 local_root: Path | None = None, write: str = LOCAL, allow_dirty: bool = False) -> pd.DataFrame:
    """A result table, reused or recomputed.

    Two places can hold it: the committed results ``<root>/<preset>/<name>.csv`` (``data/results``,
    kept in git) and this machine's own ``<local_root>/<preset>/<name>.csv`` (``runs/results``, not
    kept). With ``write="committed"`` (what ``python -m saccader evaluate`` does) the committed file
    is used only if its provenance matches ``key`` in full: code, run configs, settings and the weights of
    the runs trained here. With ``write="local"`` (the book's reading) this machine's own file is
    used if it matches in full, else the committed file if it belongs to this code, these run
    configs and settings, even when the runs trained here have other weights: training on another
    kind of processor rounds differently, and retraining every run of a study to show numbers that
    differ by about the spread over training seeds is not worth its hour; ``attrs["weights"]`` then
    says which runs differ (``source_note`` prints it); ``write="own"`` writes to the local place too
    but never takes committed numbers computed from other weights. Otherwise the table is computed (training
    missing runs) and written with its key to the ``write`` place. Every recomputation prints why.
    ``key``: the key, or a function that makes it (called again after computing, to record the
    weights of the runs just trained). The returned frame's ``attrs`` say where it came from
    (``source``, ``path``, ``reasons`` the committed file was not used, ``weights``, ``commit``).
    Committed results are written only from a clean tree (their provenance names a commit that
    reproduces them): uncommitted changes under ``saccader/`` raise ``UserError`` before any
    computation, unless ``allow_dirty``."""
    if write not in (COMMITTED, LOCAL, OWN):
        raise ValueError(f"write={write!r}: choose {COMMITTED!r}, {LOCAL!r} or {OWN!r}")
    make_key = key if callable(key) else (lambda: key)
    current = make_key()
    places = {COMMITTED: Path(root or paths.results_dir()), LOCAL: Path(local_root or paths.local_results_dir())}
    why, committed_reasons, fallback = ("forced" if force else None), [], None
    if not force:
        for source, base in places.items():
            if write == COMMITTED and source != COMMITTED:
                break  # the results of record are read from, or written to, the committed place only
            path = base / preset / f"{name}.csv"
            if not path.exists():
                reasons = ["no results file yet"]
            else:
                df, meta = read_results(preset, name, base)
                reasons = stale_reasons(meta, current)
                if not reasons:
                    return _reused(df, meta, source, path, committed_reasons, [], verbose)
                if source == COMMITTED and write == LOCAL and not stale_reasons(meta, current, weights=False):
                    fallback = (df, meta, path)  # this code and configs; only the local weights differ
            if source == COMMITTED:
                committed_reasons = reasons
        if fallback is not None:
            return _reused(*fallback[:2], COMMITTED, fallback[2], [], committed_reasons, verbose)
        why = "; ".join(committed_reasons)
    out_base = places[COMMITTED if write == COMMITTED else LOCAL]
    path = out_base / preset / f"{name}.csv"
    if write == COMMITTED and not allow_dirty:
        from saccader.provenance import git_dirty

        if git_dirty():
            from saccader.errors import UserError

            raise UserError(f"{paths.shown(path)} must be recomputed ({why}), but saccader/ has uncommitted changes: "
                            "commit them first, so that the results name a commit that reproduces them "
                            "(or pass --allow-dirty)")
    if verbose:
        print(f"[saccader evaluate] computing {paths.shown(path)}: {why}", flush=True)
    df = compute()
    final = make_key()
    write_results(df, preset, name, config=final["settings"], root=out_base, key=final, device=device)
    df.attrs.update(source=COMMITTED if write == COMMITTED else LOCAL, path=str(paths.shown(path)),
                    reasons=committed_reasons)
    return df


def _runs_of(methods: Sequence[str]) -> dict:
    return {m: (METHODS[m].stage, METHODS[m].overrides) for m in methods}


def get_results(preset: str = "tiny", seeds: Sequence[int] = DEFAULT_SEEDS, max_images: int | None = None,
                device: str = "cpu", data_dir: str | None = None, max_glimpses: int = 12,
                methods: Sequence[str] | None = None, force: bool = False, root: Path | None = None,
                batch_size: int | None = None, local_root: Path | None = None, write: str = LOCAL,
                allow_dirty: bool = False) -> pd.DataFrame:
    """The curves table of ``preset`` (``data/results/<preset>/curves.csv``, or this machine's
    ``runs/results/<preset>/curves.csv``): reused when its provenance matches (code versions, run
    configs, settings, the weights of the runs trained here), else recomputed (training missing
    runs) and written (:func:`cached_table`)."""
    check_preset(preset)
    methods = list(methods or METHODS)
    for m in methods:
        check_method(m)
    settings = {"seeds": [int(s) for s in seeds], "max_images": max_images, "max_glimpses": int(max_glimpses),
                "methods": methods}
    key = lambda: results_key(preset, _runs_of(methods), settings, data_dir)  # noqa: E731
    return cached_table(preset, "curves", key, lambda: evaluate_all(
        preset, seeds, max_images, device, data_dir, methods, max_glimpses, batch_size), force, root,
        resolve_device(device), local_root=local_root, write=write, allow_dirty=allow_dirty)


def available_results(name: str = "curves", presets: Sequence[str] = PRESETS, root: Path | None = None) -> dict:
    """{preset: table} of the results files ``name`` present for each preset (no computation)."""
    out = {}
    for preset in presets:
        if (Path(root or paths.results_dir()) / preset / f"{name}.csv").exists():
            out[preset] = read_results(preset, name, root)[0]
    return out


def at_glimpses(df: pd.DataFrame, glimpses: int = 6) -> pd.DataFrame:
    """One row per (method, policy) at ``glimpses`` (the full-image reference at all cells), the
    metrics averaged over seeds (``seeds``: how many)."""
    full = df.method.isin(FULL_IMAGE_METHODS)
    sel = df[(df.glimpses == glimpses) | full]
    out = (sel.groupby(["method", "policy"], sort=False)
           .agg(glimpses=("glimpses", "first"), top1=("top1", "mean"), top5=("top5", "mean"),
                coverage=("coverage", "mean"), images=("images", "first"), seeds=("seed", "nunique"))
           .reset_index())
    return out


def summary(df: pd.DataFrame, glimpses: Sequence[int] = (1, 6, 12), coverage_at: int = 6) -> pd.DataFrame:
    """Wide table: one row per (method, policy), top-1 (mean over seeds) at each of ``glimpses``
    and the coverage at ``coverage_at`` (the full-image reference at every column)."""
    out = None
    for t in glimpses:
        at = at_glimpses(df, t)[["method", "policy", "top1"]].rename(columns={"top1": f"top1 @{t}"})
        out = at if out is None else out.merge(at, on=["method", "policy"], how="left", sort=False)
    cov = at_glimpses(df, coverage_at)[["method", "policy", "coverage"]]
    return out.merge(cov.rename(columns={"coverage": f"coverage @{coverage_at}"}), on=["method", "policy"],
                     how="left", sort=False)


def source_note(df: pd.DataFrame) -> str:
    """One paragraph (Markdown) saying where a table from :func:`cached_table` comes from: the
    committed results, or this machine's runs (and why the committed ones were not used)."""
    source, path = df.attrs.get("source"), df.attrs.get("path", "?")
    if source == COMMITTED:
        commit = (df.attrs.get("commit") or "")[:10]
        text = f"These numbers are the committed results (`{path}`{', commit ' + commit if commit else ''})"
        if df.attrs.get("weights"):
            return (text + ", computed by this code with these configurations from runs trained elsewhere: the runs "
                    "trained on this machine have other weights (training is bit-for-bit reproducible only on the "
                    "same kind of processor), so their numbers would differ by about the spread over training runs. "
                    "`python -m saccader evaluate --preset PRESET --local` computes them from this machine's runs, "
                    "and the book then shows those.")
        return (text + ": the runs trained on this machine, where there are any, have the same weights as those "
                "they were computed from.")
    if source == LOCAL:
        why = "; ".join(df.attrs.get("reasons") or []) or "no committed results"
        return (f"These numbers are computed from this machine's own runs (`{path}`), not taken from the committed "
                f"results, because: {why}. Training is bit-for-bit reproducible only with the same code, thread "
                "count and kind of processor; on another machine the same configuration trains other weights, "
                "whose numbers differ by about the spread over training runs.")
    return ""
