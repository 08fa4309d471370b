"""Range nesting (depth/parent) against a direct definition, on random properly nested ranges with the awkward
cases real traces have: touching siblings, empty ranges, identical ranges, ranges sharing a start, many threads."""

from __future__ import annotations

import random

import pyarrow as pa

from inferscope.ingest.nesting import nest


def _random_forest(rng: random.Random, lo: int, hi: int, depth: int, out: list):
    t = lo
    while t < hi and rng.random() < 0.8:
        length = rng.choice([0, 0, 1, 5, 20, 50, 100])
        end = min(hi, t + length)
        out.append((t, end))
        if depth < 5 and end > t and rng.random() < 0.6:
            _random_forest(rng, t, end, depth + 1, out)
            if rng.random() < 0.2:
                out.append((t, end))  # an identical range: one nests in the other
        t = end if rng.random() < 0.3 else end + rng.choice([1, 3])  # sometimes touching


def _reference(rows):
    """depth = enclosing ranges on the same thread; the parent is the innermost one. Ties among identical ranges
    are broken by range id (lower id encloses), as the implementation's pre-order does."""
    depth, parent = {}, {}
    for r in rows:
        enclosing = [
            o
            for o in rows
            if o["tid"] == r["tid"]
            and o["pid"] == r["pid"]
            and o is not r
            and o["start_ns"] <= r["start_ns"]
            and r["end_ns"] <= o["end_ns"]
            and o["end_ns"] > o["start_ns"]
            and (o["start_ns"], -o["end_ns"], o["range_id"]) < (r["start_ns"], -r["end_ns"], r["range_id"])
            and not (r["end_ns"] == r["start_ns"] == o["end_ns"])
        ]
        depth[r["range_id"]] = len(enclosing)
        inner = max(enclosing, key=lambda o: (o["start_ns"], -o["end_ns"], o["range_id"]), default=None)
        parent[r["range_id"]] = inner["range_id"] if inner else None
    return depth, parent


def test_nesting_matches_definition():
    rng = random.Random(7)
    for trial in range(30):
        rows = []
        for tid in (1, 2, 3):
            spans = []
            _random_forest(rng, 0, 400, 0, spans)
            for s, e in spans:
                rows.append({"pid": 10, "tid": tid, "start_ns": s, "end_ns": e})
        rng.shuffle(rows)
        for i, r in enumerate(rows):
            r["range_id"] = i + 1
            r["style"] = "PushPop"
        table = pa.Table.from_pylist(rows)
        got = nest(table).to_pylist()
        depth, parent = _reference(rows)
        for g in got:
            assert g["depth"] == depth[g["range_id"]], (trial, g)
            assert g["parent_id"] == parent[g["range_id"]], (trial, g)


def test_start_end_ranges_do_not_nest():
    table = pa.Table.from_pylist(
        [
            {"pid": 1, "tid": 1, "start_ns": 0, "end_ns": 100, "range_id": 1, "style": "StartEnd"},
            {"pid": 1, "tid": 1, "start_ns": 10, "end_ns": 20, "range_id": 2, "style": "StartEnd"},
            {"pid": 1, "tid": 1, "start_ns": 10, "end_ns": 20, "range_id": 3, "style": "PushPop"},
        ]
    )
    got = {r["range_id"]: (r["depth"], r["parent_id"]) for r in nest(table).to_pylist()}
    assert got == {1: (0, None), 2: (0, None), 3: (0, None)}
