"""What a newcomer sees in the checkout before running anything (issue 16): the licence the package declares, a
changelog for the version it reports, lint in CI, no stray files at the root, and CI scripts that end only the
processes they started."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from inferscope.version import __version__

from .conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _tracked() -> list[str]:
    """Files git tracks (what a fresh clone holds), or skip where the tests run outside a git checkout (an sdist)."""
    try:
        proc = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if proc.returncode != 0:
        pytest.skip(f"not a git checkout ({proc.stderr.strip()[:100]})")
    return proc.stdout.splitlines()


def test_license_file_is_the_license_pyproject_declares():
    assert PYPROJECT["license"] == {"text": "Apache-2.0"}
    head = " ".join((REPO / "LICENSE").read_text(encoding="utf-8").split()[:6])
    assert head == "Apache License Version 2.0, January 2004", head


def test_changelog_has_the_released_version_and_an_unreleased_section():
    headings = re.findall(r"^## (.+)$", (REPO / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings[0] == "Unreleased"
    assert __version__ in [h.split()[0] for h in headings], headings


def _ci_commands() -> list[list[str]]:
    """.ci/run's command lines, without comments and continuation breaks, split as the shell would."""
    text = (REPO / ".ci" / "run").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [ln.split(" #")[0].strip() for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return [shlex.split(ln) for ln in lines if ln]


def test_ci_lints_and_checks_formatting_before_the_tests():
    commands = _ci_commands()
    lint = [i for i, c in enumerate(commands) if c[-3:] == ["ruff", "check", "."]]
    fmt = [i for i, c in enumerate(commands) if c[-4:] == ["ruff", "format", "--check", "."]]
    tests = [i for i, c in enumerate(commands) if "pytest" in c]
    assert lint and fmt and tests, commands
    assert max(lint[0], fmt[0]) < tests[0]


def test_ci_and_scripts_end_no_process_by_name():
    """`pkill -f nsys` in CI ended other users' agents and any process whose command line held the word; the
    recorder ends its own nsys session by PID (tests/test_record_nsys.py)."""
    offenders = []
    for name in _tracked():
        if name.endswith((".py", ".sh")) or name.startswith(".ci/"):
            path = REPO / name
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for pattern in (r"\bpkill\b", r"\bkillall\b", r"\bkill\s+-9\s+\$\(pgrep"):
                offenders += [f"{name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    offenders = [o for o in offenders if not o.startswith("tests/test_repo_hygiene.py")]
    assert not offenders, offenders


def test_no_trace_or_database_files_at_the_root():
    """A stray empty ex1.sqlite once sat at the root; traces belong in sample_traces/ or ../shared."""
    root = [n for n in _tracked() if "/" not in n]
    assert not [n for n in root if n.endswith((".sqlite", ".nsys-rep", ".arrows", ".json.gz", ".db"))], root
