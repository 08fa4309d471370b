"""The package's imports run one way, down the stages (issue 18; docs/architecture.md draws them).

Every import counts: at module level, inside functions (lazy) and under TYPE_CHECKING. A module may import its
own stage and the stages below it, never one above, and no set of modules may import each other in a circle.
Read from the source with `ast`, as a layering check does, so it needs no import of the package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

# Bottom first. A module belongs to the first stage with a prefix matching it.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    (
        "ground",
        (
            "recorders",
            "inferscope.version",
            "inferscope.errors",
            "inferscope.duckdb_conn",
            "inferscope.units",
            "inferscope.resources",
            "inferscope.progress",
            "inferscope.outputs",
            "inferscope.redact",
            "inferscope.model",
            "inferscope.annotate",
            "inferscope.config",
        ),
    ),
    ("ingest", ("inferscope.ingest",)),
    ("engine", ("inferscope.engine",)),
    ("analyze", ("inferscope.analyze",)),
    ("fleet", ("inferscope.fleet",)),
    ("comparison", ("inferscope.comparison",)),
    ("render", ("inferscope.render",)),
    ("api", ("inferscope.api",)),
    ("cli", ("inferscope.cli", "inferscope.__main__")),
]
# The package root only names the API lazily (by strings) and carries the version: it sits at the top.
TOP = "inferscope"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    files = [*(REPO / "inferscope").rglob("*.py"), *(REPO / "recorders").rglob("*.py")]
    return {_module_name(p): p for p in files}


MODULES = _modules()


def imports_of(name: str, source: str, is_package: bool = False) -> set[str]:
    """Modules of this repository that module `name` imports, each name resolved to the longest module that exists.

    Every import statement counts wherever it stands (module level, inside a function, under TYPE_CHECKING), and
    every name of it: `from .. import errors, model` ties the module to both.
    """
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {
    name: imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    for name, path in MODULES.items()
}


def _stage(module: str) -> int:
    if module == TOP:
        return len(STAGES)
    for i, (_, prefixes) in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES (and docs/architecture.md)")


def test_every_kind_of_import_is_an_arrow():
    """The graph is only as good as its reader: lazy, TYPE_CHECKING, relative and many-name imports all count."""
    source = """
from typing import TYPE_CHECKING
from .. import errors, model
import inferscope.units, inferscope.version
from ..engine.trace import Trace
from . import nonexistent_name
if TYPE_CHECKING:
    from ..analyze.result import Analysis
def later():
    from inferscope.render import notebook
"""
    assert imports_of("inferscope.comparison.core", source) == {
        "inferscope.errors",
        "inferscope.model",
        "inferscope.units",
        "inferscope.version",
        "inferscope.engine.trace",
        "inferscope.comparison",
        "inferscope.analyze.result",
        "inferscope.render.notebook",
    }
    # in a package's __init__, `.` is the package itself
    assert imports_of("inferscope.render", "from .terminal import x", is_package=True) == {"inferscope.render.terminal"}


def test_the_graph_sees_a_lazy_upward_import():
    """Run on the real graph with one extra edge, the layering check must fail: it is not vacuous."""
    name = "inferscope.engine.trace"
    extra = imports_of(name, "def f():\n    from ..render import notebook\n")
    assert any(_stage(t) > _stage(name) for t in extra)


def test_every_package_says_its_job_and_what_it_may_import():
    """A newcomer opens a folder's __init__ first: its docstring names the stage's job and its imports."""
    for module, path in MODULES.items():
        if path.name != "__init__.py" or module == TOP:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert doc, f"{module}: no docstring"
        assert "may import" in doc.lower() or "imports only" in doc.lower(), f"{module}: docstring names no imports"


def test_every_module_has_a_stage():
    for module in MODULES:
        _stage(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_stage_and_below(module):
    mine = _stage(module)
    upward = sorted(t for t in GRAPH[module] if _stage(t) > mine)
    assert not upward, f"{module} ({STAGES[mine][0]}) imports from above: " + ", ".join(
        f"{t} ({STAGES[_stage(t)][0] if _stage(t) < len(STAGES) else 'top'})" for t in upward
    )


def test_no_import_circles():
    """Tarjan's strongly connected components over the whole import graph: every one must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, circles


def test_recorders_stay_apart():
    """recorders/ runs on the GPU box with the standard library: it may read InferScope's version, nothing else."""
    for module, targets in GRAPH.items():
        if module.startswith("recorders"):
            assert {t for t in targets if t.startswith("inferscope")} <= {"inferscope.version"}, module


def test_architecture_doc_lists_the_same_stages():
    """docs/architecture.md's stage table and STAGES are one list: a new stage is drawn where newcomers look."""
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| ") and "|" in line[2:]]
    start = rows.index("stage") + 1
    table = rows[start : start + len(STAGES)]
    assert table == [name for name, _ in STAGES]


def test_architecture_doc_names_only_files_that_exist():
    """Every file the "where does X go" table tells a newcomer to copy is there (placeholders aside)."""
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:inferscope|sql|recorders|templates|tests)/[^`\s<>]*)`", doc))
    missing = sorted(p for p in named if "NAME" not in p and not (REPO / p).exists())
    assert not missing, missing
