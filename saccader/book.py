"""Run the book's notebooks with papermill and compile them with jupyter-book.

``python -m saccader book --preset tiny`` is the project's main job: it copies ``book/`` into a
build folder, trains the preset's chain of runs (reusing those already trained), executes every
notebook of the table of contents with the preset's parameters (so the same notebooks run the
embedded default on a laptop and ImageNet on GPUs), two at a time on a machine with two cores or
more (``--jobs``), the benchmarks page alone, then builds the HTML with warnings as errors. A
notebook that fails stops the build and names the notebook and the cell.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from saccader import paths

from saccader.train.presets import preset_names, require_data_dir

PRESETS = tuple(preset_names())


def toc_notebooks(book: Path) -> list[Path]:
    """Notebooks of ``_toc.yml`` in reading order (markdown pages are skipped)."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("root", "chapters", "sections", "parts"):
                if key in node:
                    if key == "root":
                        files.insert(0, node["root"])
                    else:
                        walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    out = []
    for f in files:
        candidates = [book / f] if Path(f).suffix else [book / f"{f}{ext}" for ext in (".ipynb", ".md")]
        found = [p for p in candidates if p.exists()]
        if not found:
            raise FileNotFoundError(f"_toc.yml lists {f!r} but none of {[str(c) for c in candidates]} exists")
        if found[0].suffix == ".ipynb":
            out.append(found[0])
    return out


def stage_book(src: Path, dst: Path) -> None:
    """Copy the book sources (without previous builds) into ``dst``."""
    if not (src / "_mathjax" / "mathjax" / "tex-chtml.js").exists():
        raise FileNotFoundError(
            f"MathJax is missing from {src / '_mathjax' / 'mathjax'}; the book serves it itself so that "
            "equations render offline. Run `make setup` (it installs the npm package mathjax@3 there)."
        )
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__"))
    config = dst / "_config.yml"
    cfg = yaml.safe_load(config.read_text())
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"  # papermill has just run them
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))


def notebook_parameters(notebook: Path, candidates: dict) -> dict:
    """The subset of ``candidates`` that the notebook's ``parameters`` cell declares."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    return {k: v for k, v in candidates.items() if k in declared}


INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell it adds with the parameters
REMOVE_TAG = "remove-cell"            # MyST-NB leaves a cell with this tag out of the page


def tidy_executed(notebook: Path) -> int:
    """Prepare an executed ``notebook`` for its page. Tag papermill's injected-parameters cell so
    that the page leaves it out: it repeats the chapter's own (folded) parameters cell with the
    build's values, and the chapters state the scale they ran at in their text; the executed
    notebook, downloadable from its page, keeps the cell. Write the absolute paths in printed and
    plain-text outputs (messages of the training cache, say) and in papermill's metadata as
    :func:`saccader.paths.on_page` does, so that no page shows this machine's folders. Return the
    number of cells tagged."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    tagged = 0
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if INJECTED_TAG in tags and REMOVE_TAG not in tags:
            tags.append(REMOVE_TAG)
            tagged += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = paths.on_page_text(out["text"])
            for mime in ("text/plain", "text/markdown"):
                data = out.get("data", {})
                if isinstance(data.get(mime), str):
                    data[mime] = paths.on_page_text(data[mime])
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key):
            meta[key] = Path(meta[key]).name
    nbformat.write(nb, str(notebook))
    return tagged


# Notebooks that train (each trains its stage's runs, which the later pages read): one at a time, in
# reading order, with the whole machine. The benchmarks page measures speed: it runs alone, last.
TRAINING_PREFIX = "stage_"
MEASURING = ("benchmarks",)


def _run_notebook(nb: Path, params: dict, threads: int | None = None) -> float:
    """Execute ``nb`` in place with papermill and tidy it for its page; return the wall seconds.
    ``threads``: the kernel's OpenMP/MKL thread count (None: the library default)."""
    import papermill

    if threads is not None:  # the kernel inherits this process's environment
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    print(f"[book] running {nb.name} with {params}", flush=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(nb), str(nb), parameters=params, cwd=str(nb.parent),
            kernel_name="python3", progress_bar=False, log_output=False,
        )
    except papermill.PapermillExecutionError as err:
        raise RuntimeError(
            f"notebook {nb.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"The executed notebook with the traceback is at {nb}."
        ) from None
    tidy_executed(nb)
    return time.perf_counter() - start


def notebook_phases(notebooks: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(training notebooks, in order; the pages that only read runs and results; the measuring pages)."""
    training = [nb for nb in notebooks if nb.stem.startswith(TRAINING_PREFIX)]
    measuring = [nb for nb in notebooks if nb.stem in MEASURING]
    reading = [nb for nb in notebooks if nb not in training and nb not in measuring]
    return training, reading, measuring


def execute_notebooks(book: Path, parameters: dict, only: list[str] | None = None, jobs: int = 1,
                      trained: bool = False) -> list[tuple[str, float]]:
    """Execute the book's notebooks; return (name, seconds) in reading order.

    Unless the runs are ``trained`` already, the training chapters run first, one at a time (they
    train the runs every other page reads). Then the other pages (and the training chapters, when
    ``trained``) ``jobs`` at a time, one thread each when ``jobs`` > 1, so that they share the
    cores instead of competing for them (much of their time is kernel start-up, imports and
    plotting, single-threaded); the benchmarks page last, alone."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    notebooks = toc_notebooks(book)
    if only:
        notebooks = [nb for nb in notebooks if nb.stem in only]
    training, reading, measuring = notebook_phases(notebooks)
    if trained:
        reading = [nb for nb in notebooks if nb not in measuring]
        training = []
    seconds: dict[str, float] = {}
    for nb in training:
        seconds[nb.name] = _run_notebook(nb, notebook_parameters(nb, parameters))
    if jobs > 1 and len(reading) > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {nb.name: pool.submit(_run_notebook, nb, notebook_parameters(nb, parameters), 1)
                       for nb in reading}
            failures = []
            for name, fut in futures.items():
                try:
                    seconds[name] = fut.result()
                except RuntimeError as err:
                    failures.append(err)
            if len(failures) == 1:
                raise failures[0]
            if failures:
                raise RuntimeError(f"{len(failures)} notebooks failed:\n" + "\n".join(map(str, failures)))
    else:
        for nb in reading:
            seconds[nb.name] = _run_notebook(nb, notebook_parameters(nb, parameters))
    for nb in measuring:
        seconds[nb.name] = _run_notebook(nb, notebook_parameters(nb, parameters))
    return [(nb.name, seconds[nb.name]) for nb in notebooks]


def train_chain(preset: str, data_dir: str | None = None, stages: list[str] | None = None) -> float:
    """Train (or find) the runs of the preset's chain, each after its prerequisite and as many side
    by side as the preset's thread count leaves cores for (``runs.train_runs``: two single-threaded
    runs on 2 cores at the tiny preset): what the training chapters would otherwise train one after
    the other (``stages``: only the runs of these stages, with their prerequisites; None: all).
    Return seconds."""
    from saccader.train.runs import CHAIN_RUNS, train_runs

    start = time.perf_counter()
    chain = {"data_dir": str(data_dir)} if data_dir else {}
    train_runs(preset, [(stage, overrides, chain) for stage, overrides in CHAIN_RUNS.values()
                        if stages is None or stage in stages])
    return time.perf_counter() - start


def default_jobs() -> int:
    """Notebooks run side by side: 2 where there are 2 cores or more."""
    return max(1, min(2, os.cpu_count() or 1))


def build_html(book: Path) -> Path:
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(book), "--builder", "html", "-W", "-n", "--keep-going"]
    if not Path(cmd[0]).exists():
        cmd[0] = "jupyter-book"
    print("[book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    index = book / "_build" / "html" / "index.html"
    if not index.exists():
        raise RuntimeError(f"jupyter-book finished but {index} is missing")
    return index


def check_arguments(preset: str, data_dir: str | None = None, output: Path | None = None, device: str | None = None,
                    only: list[str] | None = None, jobs: int | None = None) -> None:
    """The arguments of :func:`build_book`, checked before anything runs: a bad one raises
    ``ConfigError`` (a ``ValueError``; the command line prints it on one line, exit status 2)."""
    from saccader.train.config import ConfigError, check_device, check_output_dir

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    require_data_dir(preset, data_dir)
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise ConfigError(f"--data-dir {data_dir}: no such folder; pass the data set's root (holding train/ and val/)")
    if device is not None:
        check_device(device, flag="--device")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"--jobs {jobs}: give a whole number of notebooks run side by side, 1 or more "
                          "(1 runs every notebook one after the other)")
    if output is not None:
        check_output_dir(output, key="output", flag="--output")
    if only:
        known = [nb.stem for nb in toc_notebooks(paths.book_dir())]
        unknown = [name for name in only if name not in known]
        if unknown:
            raise ConfigError(f"--only {' '.join(unknown)}: no such notebook in the book; choose among "
                              f"{', '.join(known)}")


def build_book(preset: str = "tiny", data_dir: str | None = None, output: Path | None = None,
               device: str | None = None, only: list[str] | None = None, extra: dict | None = None,
               jobs: int | None = None) -> Path:
    """Execute the notebooks for ``preset`` and build the HTML book; return the path of index.html.
    ``jobs``: notebooks run side by side (None: :func:`default_jobs`); with more than one, the
    chain of the preset is trained first, in this process, then every chapter reads its runs."""
    check_arguments(preset, data_dir, output, device, only, jobs)
    output = Path(output) if output else paths.REPO_ROOT / "build" / f"book-{preset}"
    stage_book(paths.book_dir(), output)
    parameters = {"preset": preset, "data_dir": data_dir, "device": device, **(extra or {})}
    parameters = {k: v for k, v in parameters.items() if v is not None}
    start = time.perf_counter()
    jobs = default_jobs() if jobs is None else jobs
    timings = []
    chapters = [nb.stem for nb in toc_notebooks(output) if not only or nb.stem in only]
    # side by side, the training chapters would train at once: train their runs first, once, instead
    # (not when the notebooks get their own config overrides: those are other runs)
    stages = [stem[len(TRAINING_PREFIX):] for stem in chapters if stem.startswith(TRAINING_PREFIX)]
    trained = jobs > 1 and "overrides" not in parameters and bool(stages)
    if trained:
        print(f"[book] training the {preset} runs of {', '.join(stages)} (runs already trained are reused)", flush=True)
        timings.append(("(training the chain)", train_chain(preset, data_dir, stages)))
    timings += execute_notebooks(output, parameters, only, jobs, trained)
    index = build_html(output)
    for name, sec in timings:
        print(f"[book] {name:40s} {sec:8.1f} s")
    print(f"[book] notebooks took {time.perf_counter() - start:.0f} s in all")
    print(f"[book] open {index}")
    return index


def add_subparser(subparsers) -> None:
    p = subparsers.add_parser("book", help="run the notebooks with papermill and build the HTML book",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", choices=PRESETS, help="scale to run at (default: tiny, the embedded data set on CPU)")
    p.add_argument("--data-dir", help="the data folder (train/ and val/) of --preset imagenet (ILSVRC-2012) or imagenette")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--output", type=Path, help="build folder (default: build/book-PRESET)")
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these notebooks (by file stem)")
    p.add_argument("--jobs", type=int, help="notebooks run side by side, after the chain is trained (default: 2 on 2 "
                                            "or more cores; 1 runs every notebook one after the other)")
    p.set_defaults(func=lambda a: build_book(a.preset, a.data_dir, a.output, a.device, a.only, jobs=a.jobs) and 0)
