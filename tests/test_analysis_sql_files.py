"""House rules for the analysis SQL (sql/views, sql/metrics, sql/rules) and the documents generated from it."""

from __future__ import annotations

import re

import pytest

from inferscope.analyze import metrics, rules
from inferscope.resources import sql_dir
from tests.conftest import REPO

FILES = (
    sorted((sql_dir() / "views").glob("*.sql"))
    + sorted((sql_dir() / "metrics").glob("*.sql"))
    + sorted((sql_dir() / "rules").glob("*.sql"))
)
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|DROP|COPY|ATTACH|INSTALL|LOAD|PRAGMA|EXPORT)\b", re.I)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sql_files_only_read(path):
    code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    code = re.sub(r"'[^']*'", "''", code)  # string literals such as 'copy' are data, not statements
    assert not WRITES.search(code), WRITES.search(code).group(0)


@pytest.mark.parametrize("path", sorted((sql_dir() / "views").glob("*.sql")), ids=lambda p: p.name)
def test_view_files_define_the_object_named_like_the_file(path):
    text = path.read_text()
    assert text.startswith(f"-- {path.stem}"), "header must open with the object's name"
    assert re.search(rf"CREATE OR REPLACE (VIEW|MACRO) {path.stem}\b", text)
    assert "No parameters." in text or "Parameters:" in text


def test_rule_ids_match_file_names_and_load_cleanly():
    loaded, errors = rules.discover()
    assert errors == []
    assert {r.id for r in loaded} == {p.stem for p in (sql_dir() / "rules").glob("*.sql")}
    for r in loaded:
        assert r.impact_doc and r.why, f"{r.id}: header must say what impact_ns measures and why"
        assert set(r.used_params()) == set(r.params), f"{r.id}: declared and used parameters differ"


def test_metric_ids_are_unique_and_typed():
    decls = [d for _, h in metrics.declarations() for d in h.metrics]
    assert len({d.id for d in decls}) == len(decls)
    assert {d.unit for d in decls} <= {"ns", "bytes", "bytes/s", "pct", "count", "ratio"}
    assert all(d.description for d in decls)


def test_generated_docs_are_current():
    assert (REPO / "docs" / "metrics.md").read_text() == metrics.markdown(), "run: python -m inferscope.analyze.metrics"
    assert (REPO / "docs" / "rules.md").read_text() == rules.markdown(), "run: python -m inferscope.analyze.rules"
