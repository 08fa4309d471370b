"""The serving section of an analysis: the load generator's requests joined to what the GPU did.

It exists only when a request file is attached (`Trace.attach_requests`, `analyze --requests`): a trace without
requests analyses exactly as before, with no serving rules listed and no serving block, so its outputs do not
change. The numbers come from the views in sql/views (request_summary, serving_summary, request_gpu,
request_hol); the findings from the rules in sql/serving, which run like the built-in rules but only here.
"""

from __future__ import annotations

from ..resources import sql_dir

# How many of the slowest requests the section lists, with their GPU breakdown.
SLOWEST = 5
_SLOWEST_COLUMNS = (
    "request_id, ttft_ns, e2e_ns, queue_ns, prefill_ns, decode_ns, steps, decode_steps, mean_batch, gpu_busy_pct, "
    "decode_gpu_busy_pct, mean_in_flight, max_in_flight, hol_prefills, hol_ns"
)


def present(con) -> bool:
    """Whether requests are attached (the `requests` model table has rows)."""
    return bool(con.execute("SELECT count(*) FROM requests").fetchall()[0][0])


def rule_dirs(con) -> list:
    """The serving rules' directory when requests are attached, else none."""
    return [sql_dir() / "serving"] if present(con) else []


def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, (_plain(v) for v in row))) for row in cur.fetchall()]


def _plain(value):
    """JSON-ready numbers: DuckDB's HUGEINT sums and quantiles arrive as Decimal or float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def section(con, meta: dict[str, str]) -> dict | None:
    """The serving block of the analysis as plain data, or None without requests."""
    if not present(con):
        return None
    return {
        "alignment": {k[len("requests.") :]: v for k, v in sorted(meta.items()) if k.startswith("requests.")},
        "summary": _rows(con, "SELECT * FROM request_summary ORDER BY tag"),
        "serving": _rows(con, "SELECT * FROM serving_summary")[0],
        "slowest_ttft": _rows(
            con, f"SELECT {_SLOWEST_COLUMNS} FROM request_gpu ORDER BY ttft_ns DESC, request_id LIMIT {SLOWEST}"
        ),
        "slowest_e2e": _rows(
            con, f"SELECT {_SLOWEST_COLUMNS} FROM request_gpu ORDER BY e2e_ns DESC, request_id LIMIT {SLOWEST}"
        ),
        "tail": _rows(con, "SELECT * FROM request_tail ORDER BY metric, part"),
        "slowest_breakdown": _rows(
            con,
            "SELECT b.* FROM request_gpu_breakdown b JOIN (SELECT request_id FROM request_gpu ORDER BY e2e_ns DESC, "
            f"request_id LIMIT {SLOWEST}) USING (request_id) ORDER BY b.request_id, b.dimension, b.time_ns DESC",
        ),
    }
