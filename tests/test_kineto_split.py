"""The events array cut into files that DuckDB reads in parallel (ingest/kineto_json.split_array): every part is a
JSON array of whole events, in order; a cut that lands inside a nested value is undone (join_parts) and the array
read whole; either way the converted model tables equal those of the uncut array."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferscope.ingest import kineto, kineto_json, load
from inferscope.ingest.kineto_json import join_parts, split_array
from tests.conftest import TRACES, needs_shared


def _events(n: int, tricky: bool) -> list[dict]:
    """Kineto-like events. Text inside strings can never look like a cut (its quotes are escaped), but nested
    objects in args can: `tricky` gives every event a long list of objects keyed like events, so cuts land
    inside args."""
    nested = [{"ph": k, "name": "inner"} for k in range(60)] if tricky else [{"a": 1}, {"b": [1]}]
    return [
        {
            "ph": "X",
            "cat": "cpu_op",
            "name": f'aten::mm}},{{"ph": "X" {i}',
            "pid": 1,
            "tid": 2,
            "ts": 1000 + i,
            "dur": 3,
            "args": {"External id": i, "nested": nested},
        }
        for i in range(n)
    ]


def _write(tmp_path: Path, events: list[dict], indent: int | None) -> Path:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events, indent=indent))
    return path


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty"])
def test_parts_are_arrays_of_whole_events_in_order(tmp_path, monkeypatch, indent):
    monkeypatch.setattr(kineto_json, "MIN_PART_BYTES", 4096)
    events = _events(400, tricky=False)
    path = _write(tmp_path, events, indent)
    parts = split_array(path, 4)
    assert len(parts) == 4 and parts[0] == path
    got = [e for p in parts for e in json.loads(p.read_bytes())]
    assert got == events
    assert all(json.loads(p.read_bytes()) for p in parts)  # none empty
    joined = join_parts(parts)
    assert joined == path and not any(p.exists() for p in parts[1:])
    assert json.loads(path.read_bytes()) == events


def test_a_cut_inside_a_nested_value_is_undone_by_joining(tmp_path, monkeypatch):
    monkeypatch.setattr(kineto_json, "MIN_PART_BYTES", 4096)
    events = _events(400, tricky=True)
    path = _write(tmp_path, events, None)
    parts = split_array(path, 3)
    assert len(parts) == 3
    valid = []
    for p in parts:
        try:
            json.loads(p.read_bytes())
            valid.append(True)
        except json.JSONDecodeError:
            valid.append(False)
    assert not all(valid)  # the cuts landed inside args: the parts are not JSON
    assert json.loads(join_parts(parts).read_bytes()) == events


def test_small_arrays_and_one_thread_stay_whole(tmp_path):
    path = _write(tmp_path, _events(50, tricky=False), None)
    before = path.read_bytes()
    assert split_array(path, 8) == [path]  # under 2 x MIN_PART_BYTES
    assert split_array(path, 1) == [path]
    assert path.read_bytes() == before


def _tables(path: Path, monkeypatch, min_part: int, seen: list) -> dict:
    monkeypatch.setattr(kineto_json, "MIN_PART_BYTES", min_part)
    real = kineto_json.split_array

    def spy(file, parts):
        out = real(file, parts)
        seen.append(len(out))
        return out

    monkeypatch.setattr(kineto, "split_array", spy)
    return load(path)


def _sorted(table):
    """The rows in one order: DuckDB's transforms do not keep their input's (two uncut reads can differ too)."""
    import pyarrow as pa

    keys = [(f.name, "ascending") for f in table.schema if not pa.types.is_nested(f.type)]
    return table.sort_by(keys) if keys else table


def _assert_same_tables(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if name == "trace_meta":
            continue
        assert _sorted(a[name]).equals(_sorted(b[name])), name


def test_tricky_names_convert_as_the_uncut_array(tmp_path, monkeypatch):
    """Cuts inside args: DuckDB's read fails, the parts are joined, and the array is read whole."""
    doc = {"schemaVersion": 1, "traceEvents": _events(3000, tricky=True)}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(doc))
    whole_seen, cut_seen = [], []
    whole = _tables(path, monkeypatch, 1 << 40, whole_seen)
    joined = []
    monkeypatch.setattr(kineto, "join_parts", lambda parts: joined.append(len(parts)) or join_parts(parts))
    cut = _tables(path, monkeypatch, 64 << 10, cut_seen)
    assert whole_seen == [1] and cut_seen[0] > 1
    assert joined == [cut_seen[0]]  # the read of the parts failed and they were put back together
    assert whole["nvtx_ranges"].num_rows == 3000
    _assert_same_tables(whole, cut)


@needs_shared
def test_a_shared_trace_converts_as_the_uncut_array(monkeypatch):
    path = TRACES / "h200" / "h200_llm_decode_eager.json.gz"
    whole_seen, cut_seen = [], []
    whole = _tables(path, monkeypatch, 1 << 40, whole_seen)
    cut = _tables(path, monkeypatch, 1 << 20, cut_seen)
    assert whole_seen == [1] and cut_seen[0] > 1
    assert whole["kernels"].num_rows > 10_000
    _assert_same_tables(whole, cut)
