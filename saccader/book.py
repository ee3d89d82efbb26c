"""Run the book's notebooks with papermill and compile them with jupyter-book.

``python -m saccader book --preset tiny`` is the project's main job: it copies ``book/`` into a
build folder, executes every notebook of the table of contents in order with the preset's
parameters (so the same notebooks run the embedded default on a laptop and ImageNet on GPUs),
then builds the HTML with warnings as errors. A notebook that fails stops the build and names
the notebook and the cell.
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


def execute_notebooks(book: Path, parameters: dict, only: list[str] | None = None) -> list[tuple[str, float]]:
    import papermill

    timings = []
    notebooks = toc_notebooks(book)
    if only:
        notebooks = [nb for nb in notebooks if nb.stem in only]
    for nb in notebooks:
        params = notebook_parameters(nb, parameters)
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
        timings.append((nb.name, time.perf_counter() - start))
    return timings


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
                    only: list[str] | None = None) -> None:
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
    if output is not None:
        check_output_dir(output, key="output", flag="--output")
    if only:
        known = [nb.stem for nb in toc_notebooks(paths.book_dir())]
        unknown = [name for name in only if name not in known]
        if unknown:
            raise ConfigError(f"--only {' '.join(unknown)}: no such notebook in the book; choose among "
                              f"{', '.join(known)}")


def build_book(preset: str = "tiny", data_dir: str | None = None, output: Path | None = None,
               device: str | None = None, only: list[str] | None = None, extra: dict | None = None) -> Path:
    """Execute the notebooks for ``preset`` and build the HTML book; return the path of index.html."""
    check_arguments(preset, data_dir, output, device, only)
    output = Path(output) if output else paths.REPO_ROOT / "build" / f"book-{preset}"
    stage_book(paths.book_dir(), output)
    parameters = {"preset": preset, "data_dir": data_dir, "device": device, **(extra or {})}
    parameters = {k: v for k, v in parameters.items() if v is not None}
    start = time.perf_counter()
    timings = execute_notebooks(output, parameters, only)
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
    p.set_defaults(func=lambda a: build_book(a.preset, a.data_dir, a.output, a.device, a.only) and 0)
