"""AIPerf per-request records (profile_export.jsonl[.gz]) -> the model's `requests` and `request_chunks` tables.

A load generator's request file is not a trace: it is read beside one and put on that trace's clock. AIPerf writes
one JSON object per request: `metadata.timestamp_ns` (UTC ns, when the request was sent), `metrics` ({tag: {value,
unit}}: ttft, ttst, request_latency, inter_chunk_latency (a list), token counts) and, for failed or cancelled
requests, `error` {code, type, message} with no latency metrics. Times are kept in integer ns (AIPerf measures in
ns and writes ms with six decimals, so ms * 1e6 rounds back to its ns exactly); errors stay rows with their status.

Alignment: trace_ns = utc_ns - session_start_utc_ns (nsys: TARGET_INFO_SESSION_START_TIME; Kineto: the
timeline's zero from baseTimeNanoseconds). The offset is exact when the load generator ran on the traced host's
clock; its uncertainty is the coarser of the two clocks' resolutions, which `alignment` states.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TraceInputError

if TYPE_CHECKING:
    import pyarrow as pa

CANCELLED_TYPES = ("RequestCancellationError",)
CANCELLED_CODE = 499


def _text(path: Path) -> str:
    """The file as text, gunzipped when it is gzip (by content, not by name): benchmark artifacts are archived as
    profile_export.jsonl.gz, and a request file a user has to inflate first is one more step before the answer."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TraceInputError(f"{path}: cannot read the request file ({exc})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise TraceInputError(
                f"{path}: truncated or corrupt gzip file ({exc}); re-copy or re-compress it"
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceInputError(f"{path}: cannot read the request file ({exc})") from None


def read_records(path: Path) -> list[dict]:
    """The file's records; a file that is not AIPerf's record format is refused in one line."""
    text = _text(path)
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceInputError(
                f"{path}:{number}: not JSON ({exc.msg}); expected AIPerf profile_export.jsonl"
            ) from None
        meta = rec.get("metadata") if isinstance(rec, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("timestamp_ns"), int):
            raise TraceInputError(
                f"{path}:{number}: no metadata.timestamp_ns; expected AIPerf profile_export.jsonl records"
            )
        records.append(rec)
    if not records:
        raise TraceInputError(f"{path}: no request records")
    return records


def _value(metrics: dict, tag: str):
    m = metrics.get(tag)
    return m.get("value") if isinstance(m, dict) else None


def _ns(ms) -> int | None:
    return None if ms is None else int(round(float(ms) * 1e6))


def _status(error: dict | None) -> str:
    if not error:
        return "ok"
    if error.get("type") in CANCELLED_TYPES or error.get("code") == CANCELLED_CODE:
        return "cancelled"
    return "error"


def _placement(start: int | None, end: int | None, span: tuple[int, int] | None) -> str:
    if start is None:
        return "unanchored"
    if span is None:
        return "inside"
    lo, hi = span
    last = start if end is None else end
    if last < lo:
        return "before"
    if start > hi:
        return "after"
    return "inside" if start >= lo and last <= hi else "partial"


def to_tables(
    records: list[dict], session_start_utc_ns: int | None, span: tuple[int, int] | None
) -> "dict[str, pa.Table]":
    """`requests` and `request_chunks` rows; times on the trace clock when the session start is known (else NULL,
    window 'unanchored'); `span` is the trace's [first, last] ns, against which each request's window is said."""
    import pyarrow as pa

    from .. import model

    rows, chunks = [], {"request_id": [], "chunk_index": [], "ts_ns": [], "latency_ns": []}
    seen: set[str] = set()
    for n, rec in enumerate(records):
        meta, metrics = rec["metadata"], rec.get("metrics") or {}
        error = rec.get("error") or None
        rid = str(meta.get("x_request_id") or f"#{n + 1}")
        if rid in seen:  # ids join requests to their chunks and name them in findings: keep them unique
            rid = f"{rid}#{n + 1}"
        seen.add(rid)
        utc = int(meta["timestamp_ns"])
        start = utc - session_start_utc_ns if session_start_utc_ns is not None else None
        latency, ttft = _ns(_value(metrics, "request_latency")), _ns(_value(metrics, "ttft"))
        end = start + latency if start is not None and latency is not None else None
        first = start + ttft if start is not None and ttft is not None else None
        icl = [_ns(v) for v in (_value(metrics, "inter_chunk_latency") or [])]
        osl = _value(metrics, "output_sequence_length")
        itl = (latency - ttft) / (osl - 1) if latency is not None and ttft is not None and osl and osl > 1 else None
        rows.append(
            {
                "start_ns": start,
                "end_ns": end,
                "dur_ns": latency,
                "request_id": rid,
                "source": "aiperf",
                "status": _status(error),
                "error_code": (error or {}).get("code"),
                "error_type": (error or {}).get("type"),
                "error_message": (error or {}).get("message"),
                "utc_start_ns": utc,
                "first_token_ns": first,
                "ttft_ns": ttft,
                "ttst_ns": _ns(_value(metrics, "ttst")),
                "itl_ns": itl,
                "chunks": len(icl) if not error else None,
                "icl_mean_ns": sum(icl) / len(icl) if icl else None,
                "icl_max_ns": max(icl) if icl else None,
                "input_tokens": _value(metrics, "input_sequence_length"),
                "output_tokens": osl,
                "reasoning_tokens": _value(metrics, "reasoning_token_count"),
                "credit_phase": meta.get("credit_phase"),
                "placement": _placement(start, end, span),
            }
        )
        ts = first
        for i, gap in enumerate(icl, 1):
            ts = ts + gap if ts is not None else None
            chunks["request_id"].append(rid)
            chunks["chunk_index"].append(i)
            chunks["ts_ns"].append(ts)
            chunks["latency_ns"].append(gap)
    requests = model.conform("requests", pa.Table.from_pylist(rows, schema=model.TABLE_BY_NAME["requests"].schema))
    return {
        "requests": requests,
        "request_chunks": model.conform(
            "request_chunks", pa.table(chunks, schema=model.TABLE_BY_NAME["request_chunks"].schema)
        ),
    }


def alignment(meta: dict[str, str], requests: "pa.Table", span: tuple[int, int] | None, path: Path) -> dict[str, str]:
    """trace_meta facts saying how the requests were put on the trace clock and where they fell (`requests.*`)."""
    fmt = meta.get("source_format", "")
    anchored = meta.get("session_start_utc_ns") not in (None, "")
    if not anchored:
        anchor, resolution = "none (the trace has no UTC session start; request times are left NULL)", None
    elif fmt.startswith("kineto"):
        anchor, resolution = "Kineto baseTimeNanoseconds (the timeline's zero in UTC)", 1000
    elif fmt == "bundle":
        anchor, resolution = "the bundle's clock anchor (CLOCK_REALTIME at the session start)", 1
    else:
        anchor, resolution = "nsys TARGET_INFO_SESSION_START_TIME (utcEpochNs)", 1
    windows = requests.column("placement").to_pylist()
    statuses = requests.column("status").to_pylist()
    facts = {
        "requests.file": Path(path).name,
        "requests.source": "aiperf",
        "requests.count": str(len(windows)),
        "requests.ok": str(statuses.count("ok")),
        "requests.cancelled": str(statuses.count("cancelled")),
        "requests.errors": str(statuses.count("error")),
        "requests.clock_anchor": anchor,
    }
    if anchored:
        facts["requests.offset_ns"] = str(-int(meta["session_start_utc_ns"]))
        facts["requests.offset_uncertainty_ns"] = str(resolution)
        facts["requests.offset_note"] = (
            "trace_ns = utc_ns + offset_ns; exact when the load generator shares the traced host's clock, "
            f"to the trace clock's resolution ({resolution} ns); a load generator on another host adds its clock "
            "skew (NTP: typically 0.1-10 ms). The lag from a request's start to the first GPU work it causes is "
            "measured per request in request_gpu (queue_ns)"
        )
    if span is not None:
        facts["requests.trace_span"] = f"{span[0]}..{span[1]}"
    for w in ("inside", "partial", "before", "after", "unanchored"):
        facts[f"requests.placement.{w}"] = str(windows.count(w))
    return facts
