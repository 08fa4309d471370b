"""The Kineto events array cut out of the document while it is read and inflated (ingest/kineto_json.extract_events)
must be byte for byte what the whole-document split gives (split_document over read_bytes), with the same metadata
and the same exact-times verdict, on every shared trace and on layouts built to strain the cut: pieces split
anywhere, a byte-order mark, a bare event array, the key inside an earlier value, keys after the array, several
gzip members, and damaged files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from inferscope.errors import TraceInputError
from inferscope.ingest import kineto_json
from inferscope.ingest.kineto_json import extract_events, needs_exact_times, read_bytes, split_document
from tests.conftest import TRACES, needs_shared

SHARED = sorted(
    p
    for folder in ("kineto", "h200", "fleet")
    for p in (TRACES / folder).rglob("*.json*")
    if p.is_file() and p.name.endswith((".json", ".json.gz")) and ".inferscope" not in str(p)
)


def _whole(path: Path) -> tuple[dict, bytes, bool]:
    meta, events = split_document(path, read_bytes(path))
    return meta, bytes(events), needs_exact_times(events)


def _streamed(path: Path, tmp_path: Path) -> tuple[dict, bytes, bool] | None:
    dest = tmp_path / "events.json"
    found = extract_events(path, dest)
    if found is None:
        return None
    return found[0], dest.read_bytes(), found[1]


@needs_shared
@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_shared_traces_are_cut_as_the_whole_document_is(path, tmp_path):
    assert _streamed(path, tmp_path) == _whole(path)


EVENTS = [
    {"ph": "X", "cat": "kernel", "name": "k[0]", "pid": 0, "tid": 7, "ts": 1712195495519695.801, "dur": 2.5},
    {"ph": "X", "cat": "cpu_op", "name": "aten::mm ]} [", "pid": 1, "tid": 1, "ts": 10, "dur": 3, "args": {}},
]


def _doc(before: str = "", after: str = "", events=EVENTS) -> bytes:
    body = json.dumps(events)
    return f'{{{before}"traceEvents": {body}{after}}}'.encode()


LAYOUTS = {
    "plain": _doc('"schemaVersion": 1, ', ', "displayTimeUnit": "ms"'),
    "bom and spaces": b"\xef\xbb\xbf \n\t" + _doc('"schemaVersion": 1, '),
    "bare array": b"  " + json.dumps(EVENTS).encode() + b"\n",
    "key inside an earlier value": _doc('"note": "see \\"traceEvents\\": [1, 2]", ', ', "x": [1]'),
    "keys after the array": _doc("", ', "deviceProperties": [{"id": 0, "name": "H100"}], "baseTimeNanoseconds": 5'),
    "empty array": _doc('"a": 1, ', "", events=[]),
}


@pytest.mark.parametrize("gz", [False, True], ids=["json", "gzip"])
@pytest.mark.parametrize("chunk", [7, 1 << 18], ids=["7-byte pieces", "256k pieces"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_are_cut_as_the_whole_document_is(layout, chunk, gz, tmp_path, monkeypatch):
    monkeypatch.setattr(kineto_json, "_IN_CHUNK", chunk)
    data = LAYOUTS[layout]
    path = tmp_path / ("t.json.gz" if gz else "t.json")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = _streamed(path, tmp_path)
    assert got is not None
    assert got == _whole(path)
    assert got[2] is (layout != "empty array")  # the first event's ts has ns digits on epoch microseconds


def test_several_gzip_members_and_trailing_zeros(tmp_path):
    data = LAYOUTS["keys after the array"]
    path = tmp_path / "t.json.gz"
    path.write_bytes(gzip.compress(data[:40]) + gzip.compress(data[40:]) + b"\0" * 16)
    assert _streamed(path, tmp_path) == _whole(path)


def test_keys_after_the_array_beyond_a_mebibyte_read_the_whole_document(tmp_path):
    path = tmp_path / "t.json"
    path.write_bytes(_doc("", ', "big": "' + "x" * (2 << 20) + '"'))
    assert _streamed(path, tmp_path) is None  # and the caller falls back to the whole-document split
    meta, _, _ = _whole(path)
    assert len(meta["big"]) == 2 << 20


@pytest.mark.parametrize(
    "content, words",
    [
        (gzip.compress(LAYOUTS["plain"])[:-30], "truncated or corrupt gzip"),
        (gzip.compress(LAYOUTS["plain"]) + b"garbage after", "truncated or corrupt gzip"),
        (b"<html>not json</html>", "not JSON"),
    ],
    ids=["truncated gzip", "garbage after the gzip stream", "not JSON"],
)
def test_damaged_files_are_one_clear_error(content, words, tmp_path):
    path = tmp_path / "t.json.gz"
    path.write_bytes(content)
    with pytest.raises(TraceInputError, match=words):
        extract_events(path, tmp_path / "events.json")
