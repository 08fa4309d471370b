"""Every SQL file opens with its header: the object it defines, by name, and the parameters it reads.

Rules, metrics and serving rules have a strict header of their own (`inferscope.analyze.headers`, tested where
they load); the other ~190 files (views, ingest, stats, report, perfetto, compare, fleet) are read by people
first, so the header is what a newcomer sees before the SQL: one concept per file, named like the file.
"""

from __future__ import annotations

import re

import pytest

from inferscope.resources import sql_dir

STRICT = {"rules", "metrics", "serving"}
FILES = sorted(p for p in sql_dir().rglob("*.sql") if p.relative_to(sql_dir()).parts[0] not in STRICT)


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(sql_dir())))
def test_header_names_the_object_and_its_parameters(path):
    header = _header(path.read_text(encoding="utf-8"))
    # ingest and perfetto files name their source as well: "-- kineto kernels: ...", "-- perfetto gpu_ops: ..."
    assert re.match(rf"((kineto|perfetto) )?{re.escape(path.stem)}\b", header), "header must open with the name"
    assert re.search(r"No parameters|params?:|Parameters?:", header, re.I), "header must say its parameters"


def test_parameters_the_body_reads_are_in_the_header():
    """A `getvariable('x')` the header does not name is a parameter nobody knows to set."""
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        header = _header(text)
        for name in set(re.findall(r"getvariable\('([a-z_]+)'\)", text)):
            assert name in header, f"{path}: reads {name} without naming it in the header"
