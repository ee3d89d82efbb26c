"""The package's layout shows its architecture: one folder per layer, imports that run one way
(data -> models -> train -> evaluation -> report -> the entry points; bench/ beside evaluation/),
no import circle (imports inside functions count too) and no module over about 600 lines.

Read from the source with ``ast``, nothing is imported. ``from pkg import name`` is an import of
the submodule ``pkg.name`` when there is one, else of ``pkg`` (as import-linter reads it)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "saccader"
SHARED = {"errors", "geometry", "losses", "paths", "provenance"}
ENTRY = {"cli", "commands", "book", "__main__"}  # the top's entry points and each layer's cli.py
# a module may import its own layer and the layers below it; bench and evaluation do not import each other
RANK = {"shared": 0, "data": 1, "models": 2, "train": 3, "evaluation": 4, "bench": 4, "report": 5, "entry": 6}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("saccader",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """{module: the package's modules it imports, at the top or inside functions}."""
    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if path.name == "__init__.py" else base[:-1]
                    base = base[:len(base) - node.level + 1] + ([node.module] if node.module else [])
                    module = ".".join(base)
                else:
                    module = node.module
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            else:
                continue
            found |= {resolve(t) for t in targets if t.split(".")[0] == "saccader"}
        edges[name] = found - {None, name, "saccader"}
    return edges


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[-1] in ENTRY:
        return "entry"
    if len(parts) == 1 or parts[1] in SHARED:
        return "shared"
    return parts[1]


MODULES = _modules()
EDGES = _imports(MODULES)


def test_the_layers_are_folders():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == {"data", "models", "train", "evaluation", "report", "bench"}
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == SHARED | ENTRY | {"__init__"}


def test_no_import_circle():
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in EDGES[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_imports_run_one_way():
    unplaced = sorted(m for m in MODULES if _layer(m) not in RANK)
    assert not unplaced, f"modules in no layer: {unplaced}"
    wrong = [f"{a} ({_layer(a)}) imports {b} ({_layer(b)})" for a, targets in sorted(EDGES.items())
             for b in sorted(targets) if _layer(a) != _layer(b) and RANK[_layer(a)] <= RANK[_layer(b)]]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    path = MODULES[module]
    lines = len(path.read_text().splitlines())
    limit = MAX_LINES
    assert lines <= limit, f"{path.relative_to(PACKAGE)}: {lines} lines; split it by what it does"
