"""AIPerf per-request records (profile_export.jsonl[.gz]) -> request entries (`request_files` makes the tables).

AIPerf writes one JSON object per request: `metadata.timestamp_ns` (UTC ns, when the request was sent), `metrics`
({tag: {value, unit}}: ttft, ttst, request_latency, inter_chunk_latency (a list), token counts) and, for failed or
cancelled requests, `error` {code, type, message} with no latency metrics. Times are kept in integer ns (AIPerf
measures in ns and writes ms with six decimals, so ms * 1e6 rounds back to its ns exactly); errors stay rows with
their status.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TraceInputError

CANCELLED_TYPES = ("RequestCancellationError",)
CANCELLED_CODE = 499
EXPECTED = "expected AIPerf profile_export.jsonl or GenAI-Perf profile_export.json"


def parse(text: str, path: Path) -> list[dict]:
    """The file's records; a file that is not AIPerf's record format is refused in one line."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceInputError(f"{path}:{number}: not JSON ({exc.msg}); {EXPECTED}") from None
        meta = rec.get("metadata") if isinstance(rec, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("timestamp_ns"), int):
            raise TraceInputError(f"{path}:{number}: no metadata.timestamp_ns; {EXPECTED}")
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


def entries(records: list[dict]) -> list[dict]:
    """One request entry (the shape `request_files.to_tables` reads) per AIPerf record."""
    out = []
    for n, rec in enumerate(records):
        meta, metrics = rec["metadata"], rec.get("metrics") or {}
        error = rec.get("error") or None
        gaps = [_ns(v) for v in (_value(metrics, "inter_chunk_latency") or [])]
        out.append(
            {
                "request_id": str(meta.get("x_request_id") or f"#{n + 1}"),
                "utc_start_ns": int(meta["timestamp_ns"]),
                "dur_ns": _ns(_value(metrics, "request_latency")),
                "ttft_ns": _ns(_value(metrics, "ttft")),
                "ttst_ns": _ns(_value(metrics, "ttst")),
                "gaps_ns": gaps,
                "chunks": len(gaps) if not error else None,
                "input_tokens": _value(metrics, "input_sequence_length"),
                "output_tokens": _value(metrics, "output_sequence_length"),
                "reasoning_tokens": _value(metrics, "reasoning_token_count"),
                "status": _status(error),
                "error_code": (error or {}).get("code"),
                "error_type": (error or {}).get("type"),
                "error_message": (error or {}).get("message"),
                "credit_phase": meta.get("credit_phase"),
            }
        )
    return out
