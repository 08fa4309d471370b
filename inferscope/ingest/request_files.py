"""A load generator's request file, whichever generator wrote it -> the model's `requests` and `request_chunks`.

A request file is not a trace: it is read beside one and put on that trace's clock. The format is told from the
content, not the name (both tools call their file profile_export.json*): GenAI-Perf's export is one JSON document
with an `experiments` list; AIPerf's is JSON lines, one record per request. Each format module turns its file into
the same request entries; this module makes the tables from them and says how they were aligned.

Alignment: trace_ns = utc_ns - session_start_utc_ns (nsys: TARGET_INFO_SESSION_START_TIME; Kineto: the
timeline's zero from baseTimeNanoseconds). Both generators stamp requests with the host's UTC clock (AIPerf
time.time_ns(); GenAI-Perf's perf_analyzer std::chrono::system_clock), so the offset is exact when the load
generator ran on the traced host's clock; its uncertainty is the coarser of the two clocks' resolutions, which
`alignment` states.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TraceInputError
from . import aiperf, genai_perf

if TYPE_CHECKING:
    import pyarrow as pa

SOURCES = {"aiperf": "AIPerf profile_export.jsonl", "genai-perf": "GenAI-Perf profile_export.json"}


def _text(path: Path) -> str:
    """The file as text, gunzipped when it is gzip (by content, not by name): benchmark artifacts are archived
    compressed, and a request file a user has to inflate first is one more step before the answer."""
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


def _document(text: str):
    """The whole text as one JSON value, or None when it is not one (JSON lines stop at the second line)."""
    if text.lstrip()[:1] != "{":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def read(path: Path) -> tuple[str, list[dict]]:
    """(source, request entries) of a request file; a file that is neither format is refused in one line."""
    text = _text(path)
    doc = _document(text)
    if isinstance(doc, dict) and "experiments" in doc:
        return "genai-perf", genai_perf.entries(doc, path)
    return "aiperf", aiperf.entries(aiperf.parse(text, path))


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
    entries: list[dict], source: str, session_start_utc_ns: int | None, span: tuple[int, int] | None
) -> "dict[str, pa.Table]":
    """`requests` and `request_chunks` rows; times on the trace clock when the session start is known (else NULL,
    window 'unanchored'); `span` is the trace's [first, last] ns, against which each request's window is said.
    Chunk arrival times are the first token plus the running sum of the gaps, so both formats give the same rows
    for the same run."""
    import pyarrow as pa

    from .. import model

    rows, chunks = [], {"request_id": [], "chunk_index": [], "ts_ns": [], "latency_ns": []}
    seen: set[str] = set()
    for n, e in enumerate(entries):
        rid = e["request_id"]
        if rid in seen:  # ids join requests to their chunks and name them in findings: keep them unique
            rid = f"{rid}#{n + 1}"
        seen.add(rid)
        utc = e["utc_start_ns"]
        start = utc - session_start_utc_ns if session_start_utc_ns is not None else None
        latency, ttft, osl = e["dur_ns"], e["ttft_ns"], e["output_tokens"]
        end = start + latency if start is not None and latency is not None else None
        first = start + ttft if start is not None and ttft is not None else None
        gaps = e["gaps_ns"]
        itl = (latency - ttft) / (osl - 1) if latency is not None and ttft is not None and osl and osl > 1 else None
        rows.append(
            {
                "start_ns": start,
                "end_ns": end,
                "dur_ns": latency,
                "request_id": rid,
                "source": source,
                "status": e["status"],
                "error_code": e["error_code"],
                "error_type": e["error_type"],
                "error_message": e["error_message"],
                "utc_start_ns": utc,
                "first_token_ns": first,
                "ttft_ns": ttft,
                "ttst_ns": e["ttst_ns"],
                "itl_ns": itl,
                "chunks": e["chunks"],
                "icl_mean_ns": sum(gaps) / len(gaps) if gaps else None,
                "icl_max_ns": max(gaps) if gaps else None,
                "input_tokens": e["input_tokens"],
                "output_tokens": osl,
                "reasoning_tokens": e["reasoning_tokens"],
                "credit_phase": e["credit_phase"],
                "placement": _placement(start, end, span),
            }
        )
        ts = first
        for i, gap in enumerate(gaps, 1):
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


def alignment(
    meta: dict[str, str],
    requests: "pa.Table",
    span: tuple[int, int] | None,
    path: Path,
    source: str,
    bundled: bool = False,
) -> dict[str, str]:
    """trace_meta facts saying how the requests were put on the trace clock and where they fell (`requests.*`);
    `bundled`: the file is the one the bundle carries, not one given beside the trace."""
    fmt = meta.get("source_format", "")
    anchored = meta.get("session_start_utc_ns") not in (None, "")
    if not anchored:
        anchor, resolution = "none (the trace has no UTC session start; request times are left NULL)", None
    elif fmt.startswith("kineto"):
        anchor, resolution = "Kineto baseTimeNanoseconds (the timeline's zero in UTC)", 1000
    elif fmt.startswith("inferscope-bundle"):
        anchor, resolution = "the bundle's clock anchor (nsys utcEpochNs, else CLOCK_REALTIME at the start)", 1
    else:
        anchor, resolution = "nsys TARGET_INFO_SESSION_START_TIME (utcEpochNs)", 1
    windows = requests.column("placement").to_pylist()
    statuses = requests.column("status").to_pylist()
    facts = {
        "requests.file": Path(path).name,
        "requests.origin": "carried in the bundle" if bundled else "given",
        "requests.source": source,
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
