"""What `pip install inferscope` promises: every package the code imports is declared, every declaration has a
tested lower bound and an upper bound, and CI runs every Python version `requires-python` admits.

The import scan uses the installed distributions' own record of which top-level modules they provide (their
top_level.txt and RECORD files), not a hand-kept map, so a new import of an undeclared package fails here before it
fails on a user's fresh machine.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest

from .conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10 reads TOML with the backport the package itself declares
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Imported only when the user's own process already has them (annotate.py uses torch.cuda.nvtx if torch is loaded).
NOT_REQUIRED = {"torch": "used only when the annotated program imported it itself"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _specifiers(requirement: str) -> str:
    return requirement.split(";", 1)[0][len(_name(requirement)) :]


def _providers() -> dict[str, set[str]]:
    """Top-level module -> the distributions that install it. Python 3.10's packages_distributions() reads only
    top_level.txt, which wheels built by maturin, hatchling and others do not carry, so RECORD is read too."""
    out: dict[str, set[str]] = {}
    for dist in distributions():
        name = dist.metadata["Name"].lower().replace("_", "-")
        tops = set((dist.read_text("top_level.txt") or "").split())
        for f in dist.files or ():
            first = f.parts[0]
            if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__") or first.endswith(".pth"):
                continue
            tops.add(first.removesuffix(".py") if len(f.parts) == 1 else first)
        for top in tops:
            out.setdefault(top, set()).add(name)
    return out


def _third_party_imports(folder: Path) -> dict[str, Path]:
    """Top-level modules imported anywhere under `folder` that are neither stdlib nor the project's own."""
    own = {"inferscope", "recorders", "tests"}
    found: dict[str, Path] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                stdlib = top in sys.stdlib_module_names or top == "tomllib"  # stdlib from 3.11 (3.10 imports tomli)
                if not stdlib and top not in own:
                    found.setdefault(top, path)
    return found


def test_every_runtime_dependency_has_both_bounds():
    for req in PYPROJECT["dependencies"]:
        spec = _specifiers(req)
        assert "==" in spec or (">=" in spec and "<" in spec.replace("<=", "")), f"{req}: needs >=LOW,<HIGH"


@pytest.mark.parametrize("folder", ["inferscope", "recorders"])
def test_every_imported_package_is_declared(folder):
    declared = {_name(r) for r in PYPROJECT["dependencies"]}
    for extra in PYPROJECT["optional-dependencies"].values():
        declared |= {_name(r) for r in extra}
    provides = _providers()
    missing = []
    for module, where in sorted(_third_party_imports(REPO / folder).items()):
        if module in NOT_REQUIRED:
            continue
        dists = provides.get(module, set())
        if module == "tomli" and not dists:  # only installed (and only imported) on Python < 3.11
            dists = {"tomli"}
        if not dists & declared:
            missing.append(f"{module} (imported in {where.relative_to(REPO)}; distributions {sorted(dists)})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_recorders_stay_light():
    """The recorder runs on the GPU box with the standard library only (plus typer for its command line)."""
    assert set(_third_party_imports(REPO / "recorders")) <= {"typer"}


def test_floor_file_pins_exactly_the_lower_bounds():
    floor = {}
    for line in (REPO / ".ci" / "floor.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            floor[name.strip().lower()] = version.strip()
    lower = {}
    # The floor run installs '.[test]', which holds the fleet extra: its bounds are tested claims too.
    for req in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["fleet"]:
        m = re.search(r">=\s*([\w.]+)", _specifiers(req))
        assert m, req
        lower[_name(req)] = m.group(1)
        if req.startswith("dask[distributed]"):  # dask's extra requires the distributed release of its own number
            lower["distributed"] = m.group(1)
    assert floor.keys() == lower.keys()
    for name, version in lower.items():  # "2.0" in pyproject is 2.0.0 in the pin
        assert floor[name].split(".")[: len(version.split("."))] == version.split("."), name


def test_ci_runs_every_admitted_python():
    spec = PYPROJECT["requires-python"]
    low = tuple(int(x) for x in re.search(r">=\s*3\.(\d+)", spec).groups())
    high = tuple(int(x) for x in re.search(r"<\s*3\.(\d+)", spec).groups())
    admitted = {f"3.{m}" for m in range(low[0], high[0])}
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    variants = set(re.findall(r"^variant \S+ (3\.\d+) ", script, re.M))
    main = "3.11"  # the machine's python3, which runs README's test command
    assert admitted == variants | {main}, (admitted, variants)
    classifiers = {c.rsplit(" ", 1)[-1] for c in PYPROJECT["classifiers"] if "Python :: 3." in c}
    assert classifiers == admitted
