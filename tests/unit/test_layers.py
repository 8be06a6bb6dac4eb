"""Packages import downwards only: cli, runtime, engine/checkers, config, ipvs, base.

Every import is counted, also those inside functions and under TYPE_CHECKING, so a cycle
cannot hide behind a lazy import. The one allowed kind of lazy import is a checker's
client library (a third-party module), which this test does not look at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PACKAGES = ("ldirectord", "checkers")

#: Higher layers may import lower ones, never the reverse; one layer may import itself.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ldirectord.cli",),
    ("ldirectord.runtime",),
    ("ldirectord.engine", "checkers"),
    ("ldirectord.config",),
    ("ldirectord.ipvs",),
    ("ldirectord",),  # the base: errors, paths, logsetup, invocation, the version
    ("ldirectord.ipvs.model",),  # plain data of the table, which errors name
    ("ldirectord.netloc",),  # how the table's keys write an address beside a port
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(TOP).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((TOP / pkg).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (a `from package import module` counts the module)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _layer(module: str) -> int:
    best = (-1, len(LAYERS))
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    return best[1]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_every_import_goes_down_or_stays_in_its_layer() -> None:
    upward = sorted(f"{a} imports {b}" for a, deps in _graph().items() for b in deps
                    if _layer(b) < _layer(a))
    assert not upward, "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                # A package's __init__ importing its own modules is not a cycle of ours.
                cycle = [*stack[stack.index(dep):], dep]
                if not all(m.startswith(cycle[0] + ".") or m == cycle[0] for m in cycle):
                    cycles.append(cycle)
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", sorted(p for pkg in PACKAGES for p in (TOP / pkg).rglob("*.py")),
                         ids=lambda p: str(p.relative_to(TOP)))
def test_no_module_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.name} has {lines} lines"


#: Modules whose functions may import project modules: the registry's loaders import a
#: checker (and so its client library) only when a config uses it.
LAZY_LOADERS = frozenset({"checkers.registry"})


def test_project_imports_are_at_the_top_of_the_module() -> None:
    hidden: list[str] = []
    for name, path in _modules().items():
        if name in LAZY_LOADERS:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                target = (node.module or "" if isinstance(node, ast.ImportFrom) else
                          ",".join(a.name for a in node.names)
                          if isinstance(node, ast.Import) else None)
                if target is not None and (target.split(".")[0] in PACKAGES
                                           or (isinstance(node, ast.ImportFrom) and node.level)):
                    hidden.append(f"{path.relative_to(TOP)}:{node.lineno}: {target}")
    assert not hidden, "\n".join(hidden)
