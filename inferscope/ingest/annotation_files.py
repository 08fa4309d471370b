"""Annotation files written by inferscope.scope()/mark_event() under `inferscope record` -> nvtx_ranges/nvtx_marks.

The recorder sets INFERSCOPE_ANNOTATIONS=BUNDLE/annotations for the workload; each annotating process appends
`annotations-<pid>.jsonl` there (format in docs/annotations.md). The bundle reader calls `merge()` with the model
tables it built and the UTC time of the trace's zero. Events become ranges/marks in the "inferscope" domain with the
same text an NVTX backend would have written, so one set of SQL views reads both. When the trace already holds
"inferscope" ranges (nsys captured the same annotations through NVTX, on the GPU clock) the files are not used,
so nothing is counted twice.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Callable

import pyarrow as pa

from .. import model
from ..annotate import DOMAIN, encode_text
from ..errors import TraceInputError
from .formats import GZIP_MAGIC


def read(
    directory: Path, session_start_utc_ns: int | None = None, to_session: Callable[[int], int] | None = None
) -> tuple[list[dict], list[dict]]:
    """Ranges and marks (model column dicts, no range_id/depth yet) from every annotation file in `directory`.

    Times are CLOCK_MONOTONIC. `to_session` (the bundle reader's monotonic -> trace-timeline mapping, built from
    the recording's clock pairs and alignment) places them when given; otherwise each file's own
    (monotonic, realtime) pair does: trace_ns = monotonic_ns + (realtime0 - monotonic0) - session_start_utc_ns.
    """
    if to_session is None and session_start_utc_ns is None:
        raise ValueError("read() needs session_start_utc_ns or to_session")
    ranges: list[dict] = []
    marks: list[dict] = []
    files = [p for p in Path(directory).glob("annotations-*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz"))]
    for file in sorted(files):
        offset = None
        pid = None
        with _open_text(file) as f:
            for lineno, line in _lines(f, file):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    if lineno > 1:  # a process killed mid-write leaves a torn last line
                        continue
                    raise TraceInputError(f"{file}:{lineno}: not an InferScope annotation file") from None
                kind = rec.get("type")
                if kind == "process":
                    pid = int(rec["pid"])
                    if to_session is None:
                        shift = int(rec["realtime_ns"]) - int(rec["monotonic_ns"]) - session_start_utc_ns
                        offset = lambda m, d=shift: m + d  # noqa: E731
                    else:
                        offset = to_session
                    continue
                if offset is None:
                    raise TraceInputError(f"{file}:{lineno}: annotation event before the process header line")
                attrs = rec.get("attrs") or {}
                text = encode_text(rec["name"], attrs)
                payload = json.dumps(attrs, separators=(",", ":")) if attrs else None
                if kind == "range":
                    start, end = offset(int(rec["start_ns"])), offset(int(rec["end_ns"]))
                    ranges.append(
                        {
                            "start_ns": start,
                            "end_ns": end,
                            "dur_ns": end - start,
                            "pid": pid,
                            "tid": int(rec["tid"]),
                            "cross_thread": False,
                            "name": text,
                            "domain": DOMAIN,
                            "style": "PushPop",
                            "category": "user_annotation",
                            "unterminated": False,
                            "payload_json": payload,
                        }
                    )
                elif kind == "mark":
                    marks.append(
                        {
                            "ts_ns": offset(int(rec["ts_ns"])),
                            "pid": pid,
                            "tid": int(rec["tid"]),
                            "name": text,
                            "domain": DOMAIN,
                            "payload_json": payload,
                        }
                    )
    return ranges, marks


def merge(
    tables: dict[str, pa.Table],
    directory: Path,
    session_start_utc_ns: int | None = None,
    to_session: Callable[[int], int] | None = None,
) -> dict[str, pa.Table]:
    """`tables` with the annotation files' ranges and marks added (range ids continue after the existing ones,
    nesting recomputed). Returns `tables` unchanged when there are no files or the trace already has them.
    The bundle reader calls `merge(tables, bundle / "annotations", to_session=to_session)`."""
    directory = Path(directory)
    if not directory.is_dir():
        return tables
    have = tables.get("nvtx_ranges", model.empty_table("nvtx_ranges"))
    if have.num_rows and DOMAIN in set(have.column("domain").to_pylist()):
        return tables
    ranges, marks = read(directory, session_start_utc_ns, to_session)
    if not ranges and not marks:
        return tables
    out = dict(tables)
    if ranges:
        from .. import duckdb_conn

        from .nsys import nest_ranges

        ids = have.column("range_id").to_pylist() if have.num_rows else []
        first = max((i for i in ids if i is not None), default=0) + 1
        ranges.sort(key=lambda r: (r["start_ns"], -r["end_ns"]))
        for i, r in enumerate(ranges):
            r["range_id"] = first + i
        new = model.conform("nvtx_ranges", pa.Table.from_pylist(ranges))
        combined = pa.concat_tables([model.conform("nvtx_ranges", have), new])
        con = duckdb_conn.connect()
        try:
            out["nvtx_ranges"] = nest_ranges(con, combined)
        finally:
            con.close()
    if marks:
        old = tables.get("nvtx_marks", model.empty_table("nvtx_marks"))
        out["nvtx_marks"] = pa.concat_tables(
            [model.conform("nvtx_marks", old), model.conform("nvtx_marks", pa.Table.from_pylist(marks))]
        )
    return out


def _open_text(file: Path):
    """Annotation files are read as written or gzip-compressed (bundles are often archived that way)."""
    with file.open("rb") as raw:
        magic = raw.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(file, "rt", encoding="utf-8")
    return file.open(encoding="utf-8")


def _lines(f, file: Path):
    """Numbered lines; a compressed file cut short (a copy interrupted, a recorder killed) ends where it breaks."""
    lineno = 0
    try:
        for line in f:
            lineno += 1
            yield lineno, line
    except (EOFError, zlib.error, gzip.BadGzipFile):
        return
