"""Markdown and HTML reports rendered from `report_data.ReportData` with the jinja2 templates in templates/.

Trace strings (kernel names, NVTX text, thread and process names, the capture command) come from whoever ran
the profiled program, so both formats escape every value by default: HTML through jinja2's autoescape, Markdown
through a `finalize` hook that escapes everything not explicitly built as Markdown by a filter here. The HTML is
one file with inline CSS and inline SVG and a Content-Security-Policy that forbids scripts and every fetch, so it
opens offline and stays inert even if a string slipped through. Markdown is sized for a GitHub PR comment
(65,536 characters): evidence tables shrink, then findings are cut, until it fits.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from . import charts
from . import tables
from ..errors import InferScopeError, visible
from ..outputs import atomic_write
from .report_data import Finding, ReportData, build
from ..resources import templates_dir
from ..units import fmt_bytes, fmt_ns, fmt_pct, fmt_value

if TYPE_CHECKING:
    from ..analyze.result import Analysis
    from ..engine.trace import Trace

GITHUB_COMMENT_LIMIT = 65_536
MD_EVIDENCE_COLUMNS = 8  # rules put the telling columns first; a PR comment has no room for fifteen
FORMATS = ("md", "html")


# ---------------------------------------------------------------- number formatting (units.py says how for
# durations, bytes and percentages, so reports read like the terminal summary and the finding sentences)


def fmt_num(v: Any, digits: int | None = None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        d = digits if digits is not None else 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2 if abs(v) >= 1 else 3
        return f"{v:,.{d}f}"
    return str(v)


def column_label(column: str) -> str:
    """A readable name for a column (render/tables.py has the labels): `gap_start_ns` -> `Gap start`."""
    return tables.label(column)


def evidence_table(f: "Finding", t0_ns: int = 0, rows: int | None = None, columns: int | None = None):
    """A finding's evidence as formatted columns (one unit per column, in the header), for both formats."""
    cols = f.columns[:columns] if columns is not None else f.columns
    shown = [r[: len(cols)] for r in (f.rows[:rows] if rows is not None else f.rows)]
    return tables.layout(cols, shown, t0_ns)


_SPARK = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width_ns: float, n: int = 60) -> str:
    """A text utilisation chart for Markdown (GitHub comments take no inline SVG): the busy time of the bins,
    merged into `n` columns, as one block character each (blank = idle, █ = busy the whole column)."""
    if not values or not width_ns:
        return ""
    size = max(1, math.ceil(len(values) / n))
    out = []
    for i in range(0, len(values), size):
        chunk = values[i : i + size]
        share = sum(chunk) / (len(chunk) * width_ns)
        out.append(_SPARK[min(8, max(0, math.ceil(share * 8 - 1e-9)))])
    return "".join(out)


def shorten(text: Any, limit: int = 120) -> str:
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- Markdown escaping


class Md(str):
    """Text that is already Markdown; the Markdown environment's finalize hook leaves it alone."""


_MD_ESCAPE = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "~": "\\~",
    "#": "\\#",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "!": "\\!",
}
_MD_RE = re.compile("|".join(re.escape(k) for k in _MD_ESCAPE))
_AUTOLINK = re.compile(r"(?i)[a-z0-9]:(?=//)|\bwww\.")
_MENTION = re.compile(r"@(?=\w)")


def md_text(value: Any) -> Md:
    """Plain text for anywhere in Markdown: no emphasis, links, HTML, table breaks or @mentions survive, and no
    control character (ESC, BEL, NUL), which a terminal `cat` or a CI log would act on, is left raw."""
    if isinstance(value, Md):
        return value
    flat = visible(" ".join(str(value if value is not None else "").split()))
    text = _MD_RE.sub(lambda m: _MD_ESCAPE[m.group(0)], flat)
    # GFM autolinks bare URLs and www. names; a backslash before the ':' / '.' stops it and renders nothing.
    text = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)
    # GitHub links @name (and pings the user) and a@b.c after rendering, whatever the escaping; an invisible
    # zero-width space after the @ is the only thing that stops it.
    return Md(_MENTION.sub("@\u200b", text))


def md_code(value: Any, limit: int = 100) -> Md:
    """An identifier (kernel name, range) as an inline code span that is safe inside a GFM table cell."""
    text = visible(shorten(value, limit))
    if not text:
        return Md("")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return Md(f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}")


def _md_finalize(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, Md) else md_text(value)


# ---------------------------------------------------------------- environments


def _environment(markdown: bool):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=not markdown,
        finalize=_md_finalize if markdown else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.tests["timestamp"] = lambda column: bool(tables._TIMESTAMP.search(column))
    env.globals["evidence_table"] = evidence_table
    wrap = Md if markdown else str
    env.filters.update(
        {
            "ns": lambda v: wrap(fmt_ns(v)),
            "bytes": lambda v: wrap(fmt_bytes(v)),
            "num": lambda v, d=None: wrap(fmt_num(v, d)),
            "value": lambda v, u="": wrap(fmt_value(v, u)),
            "column": column_label,
            "shorten": shorten,
            "pct": lambda v: wrap(fmt_pct(v)),
        }
    )
    if markdown:
        env.filters.update(
            {
                "code": md_code,
                "md": md_text,
                "bar": lambda pct, width=20: Md(_bar(pct, width)),
                "html": lambda v: Md(escape(shorten(v, 200))),
                "spark": lambda b: Md(sparkline(b["busy"], b["w_ns"])),
            }
        )
    return env


def _bar(pct: Any, width: int) -> str:
    filled = 0 if pct is None else max(0, min(width, round(float(pct) / 100 * width)))
    return "█" * filled + "░" * (width - filled)


# ---------------------------------------------------------------- rendering


def _chart_svgs(data: ReportData) -> dict[str, Markup]:
    """Inline SVG per chart; matplotlib wrote (and XML-escaped) the text in them, so they are trusted markup."""
    charts.require()
    out: dict[str, str] = {}
    if data.has_gpu and data.bins:
        out["timeline"] = charts.timeline(
            data.bins,
            data.window["dur_ns"],
            steps=_band_steps(data.steps),
            phases=[(p["phase"], p["start_ns"], p["end_ns"]) for p in data.phases],
            t0_ns=data.window["start_ns"],
            counters=data.gpu_metric_bins,
        )
    if data.breakdown:
        w = {b["device_id"]: max(b["window_ns"] or 1, 1) for b in data.breakdown}
        parts = {
            label: [100.0 * (b[key] or 0) / w[b["device_id"]] for b in data.breakdown]
            for label, key in (
                ("compute only", "compute_only_ns"),
                ("compute + copy", "overlap_ns"),
                ("copy only", "copy_only_ns"),
                ("idle", "idle_ns"),
            )
        }
        out["breakdown"] = charts.breakdown([b["device_id"] for b in data.breakdown], parts)
    if data.top_kernels:
        out["kernels"] = charts.top_kernels(
            [k["name"] for k in data.top_kernels],
            [k["total_ns"] / 1e6 for k in data.top_kernels],
            [k["time_pct"] for k in data.top_kernels],
        )
    if data.step_stats and data.step_stats["count"] >= 2:
        st = data.step_stats
        out["steps"] = charts.step_histogram(
            [s["dur_ns"] / 1e6 for s in data.steps], st["p50_ns"] / 1e6, st["p90_ns"] / 1e6, st["p99_ns"] / 1e6
        )
    for key, values, tag, what, unit in (
        ("ttft", data.request_ttft_ms, "ttft", "time to first token", "requests"),
        ("itl", data.request_gap_ms, "inter_chunk_latency", "gaps between streamed tokens", "gaps"),
    ):
        if len(values) >= 2 and tag in data.request_marks:
            out[key] = charts.latency_histogram(values, *data.request_marks[tag], what, unit)
    return {k: Markup(v) for k, v in out.items()}


def _band_steps(steps: list[dict]) -> list[tuple[int, int]]:
    """Steps drawn as bands on the timeline: one process's (the first), else ranks' steps would interleave."""
    if not steps:
        return []
    pid = min((s.get("pid") for s in steps if s.get("pid") is not None), default=None)
    mine = sorted((s["start_ns"], s["end_ns"]) for s in steps if s.get("pid") == pid)
    return mine if len(mine) <= 400 else []


def render_html(data: ReportData) -> str:
    env = _environment(markdown=False)
    return env.get_template("report.html.j2").render(r=data, charts=_chart_svgs(data))


def render_markdown(data: ReportData, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Markdown no longer than `limit` characters: fewer evidence rows first, then fewer findings."""
    template = _environment(markdown=True).get_template("report.md.j2")
    n = len(data.findings)
    plans = [(rows, n) for rows in (12, 8, 5, 3, 0)] + [(0, k) for k in (20, 10, 5, 3, 1, 0) if k < n]
    text = ""
    for rows, findings in plans:
        text = template.render(r=data, evidence_rows=rows, max_findings=findings, max_columns=MD_EVIDENCE_COLUMNS)
        if len(text) <= limit:
            return text
    note = "\n\n_(report cut to fit the size limit; use --format html for the full report)_\n"
    cut = text[: limit - len(note)]
    return cut[: cut.rfind("\n")] + note


def render(data: ReportData, fmt: str) -> str:
    if fmt == "html":
        return render_html(data)
    if fmt == "md":
        return render_markdown(data)
    raise InferScopeError(f"unknown report format {fmt!r}; use {' or '.join(FORMATS)}")


def format_for(out: Path | None, fmt: str | None) -> str:
    """The report format: explicit `fmt` wins, else the output suffix (.html/.htm, .md/.markdown)."""
    if fmt:
        fmt = {"markdown": "md", "htm": "html"}.get(fmt.lower(), fmt.lower())
        if fmt not in FORMATS:
            raise InferScopeError(f"unknown report format {fmt!r}; use {' or '.join(FORMATS)}")
        return fmt
    suffix = out.suffix.lower() if out else ""
    by_suffix = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}
    if suffix not in by_suffix:
        raise InferScopeError(f"cannot tell the report format from {out}; name it .html or .md, or pass --format")
    return by_suffix[suffix]


def render_analysis(analysis: "Analysis", fmt: str, trace: "Trace | None" = None) -> str:
    """The report for an analysis (the `md` and `html` formats of `inferscope analyze`). The charts and tables
    come from the trace model, so the trace is reopened from `analysis.trace_path` when not given."""
    if trace is None:
        from ..engine.trace import open_trace

        trace = open_trace(analysis.trace_path)
    return render(build(trace, analysis), fmt)


def write_report(trace: "Trace", out: str | Path, fmt: str | None = None, analysis: "Analysis | None" = None) -> Path:
    """Render the report for `trace` (and `analysis`) into `out`, atomically."""
    out = Path(out)
    text = render(build(trace, analysis), format_for(out, fmt))
    with atomic_write(out) as fh:
        fh.write(text.encode("utf-8"))
    return out
