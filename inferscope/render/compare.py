"""Presenting a Comparison: Markdown (PR comment, GitHub step summary), JSON, JUnit XML, GitHub annotations.

All four render the same Comparison object; Markdown goes through templates/compare.md.j2.

Kernel and range names, notes and trace file names come from whoever wrote the profiled program or named the
files, and each output escapes them its own way: Markdown escapes every value that the template prints (names
as code spans, one line each, so no name can start a line such as `::error::` in a CI log); JUnit XML replaces
the characters XML 1.0 forbids; GitHub workflow commands percent-encode what the runner parses; all three show
control characters (ESC, BEL, NUL, bidi overrides) as escapes. JSON keeps every string exactly as it is.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

from ..errors import visible
from ..comparison.result import GATING_ORDER, Comparison, MetricComparison
from ..comparison.names import display_name
from ..comparison.verdict import SHARE_UNITS

VERDICT_LABEL = {
    "regression": "❌ regression",
    "inconclusive": "❔ inconclusive",
    "improvement": "✅ improved",
    "within_noise": "〰️ within noise",
    "unchanged": "unchanged",
    "worse": "worse",
    "better": "better",
    "added": "added",
    "removed": "removed",
    "info": "info",
}
HEADLINE = {
    "not_comparable": "⛔ not comparable",
    "regression": "❌ regression",
    "inconclusive": "❔ inconclusive",
    "improvement": "✅ improved",
    "pass": "✅ pass",
}
NAME_WIDTH = 150


def fmt_value(value: float | None, unit: str) -> str:
    """A value with a readable unit: nanoseconds scaled to us/ms/s, counts with two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "ns/step":
        return fmt_value(value, "ns") + "/step"
    if unit == "ns":
        for scale, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
            if abs(value) >= scale:
                return f"{value / scale:,.3g} {name}" if abs(value) < 1000 * scale else f"{value / scale:,.0f} {name}"
        return f"{value:,.0f} ns"
    if unit in SHARE_UNITS:  # a share: "45.2 %", as a person writes it
        return f"{value:,.4g} %"
    if unit in ("calls", "count", ""):
        return f"{value:,.2f}".rstrip("0").rstrip(".") + (f" {unit}" if unit else "")
    return f"{value:,.4g} {unit}"


def fmt_pct(m: MetricComparison) -> str:
    """The change the verdict is judged on: % of the base, or percentage points for shares."""
    if m.delta_pct is None:
        return "–"
    if m.unit in SHARE_UNITS:
        return f"{m.delta:+.1f} points"
    return f"{m.delta_pct:+.1f} %"


def fmt_interval(m: MetricComparison) -> str:
    """The interval of the change, in the same units as fmt_pct."""
    if m.ratio_low is None or math.isnan(m.ratio_low):
        return "–"
    if m.unit in SHARE_UNITS:
        return f"[{m.base_value * (m.ratio_low - 1):+.1f}, {m.base_value * (m.ratio_high - 1):+.1f}] points"
    lo, hi = 100 * (m.ratio_low - 1), 100 * (m.ratio_high - 1)
    digits = 0 if min(abs(lo), abs(hi)) >= 10 else 1
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}] %"


def fmt_explains(m: MetricComparison) -> str:
    if m.explains_pct is None:
        return "–"
    from ..comparison.explain import fmt_ns

    return f"{fmt_ns(m.per_step_delta)}/step = {m.explains_pct:.0f} %"


def _md_name(text: str):
    """A name as a Markdown code span on one line: `|`, backticks and HTML cannot escape it."""
    from .report import md_code

    return md_code(visible(text), NAME_WIDTH)


def _what(m: MetricComparison) -> str:
    where = f" (GPU {m.device_id})" if m.device_id is not None else ""
    scope = f"{m.scope}: " if m.id == "range_mean_ns" and m.scope not in ("nvtx", "") else ""
    return f"{scope}{display_name(m.key)}{where}" if m.key else (m.label + where)


def _samples(m: MetricComparison) -> str:
    runs = f" ({m.base_runs}/{m.new_runs} runs)" if max(m.base_runs, m.new_runs) > 1 else ""
    return f"{m.base_samples}/{m.new_samples}{runs}"


def _table_row(m: MetricComparison) -> dict:
    not_gated = m.role == "primary" and not m.gated and m.verdict not in ("added", "removed", "info")
    return {
        "verdict": VERDICT_LABEL[m.verdict] + (" (not gated)" if not_gated else ""),
        "metric": m.label,
        "what": _md_name(_what(m)),
        "base": fmt_value(m.base_value, m.unit),
        "new": fmt_value(m.new_value, m.unit),
        "change": fmt_pct(m),
        "interval": fmt_interval(m),
        "samples": _samples(m),
        "explains": fmt_explains(m),
    }


def _side_text(side) -> dict:
    from .report import Md

    names = ", ".join(_md_name(p.rsplit("/", 1)[-1]) for p in side.traces[:3]) + (" …" if side.runs > 3 else "")
    return {
        "traces": Md(f"{side.runs}: {names}"),
        "format": ", ".join(sorted(set(side.formats))),
        "gpus": ", ".join(side.gpus) or "not recorded",
        "steps": " / ".join(str(s) for s in side.steps),
        "window": " / ".join(fmt_value(float(w), "ns") for w in side.window_ns),
    }


def headline(c: Comparison) -> str:
    """The verdict and the summary line: '✅ improved: step time -20.3 % [-22, -18] (improved): … explains 85 %'."""
    return f"{HEADLINE[c.verdict]}: {c.summary}"


def _environment(c: Comparison) -> list[dict]:
    rows = []
    for e in c.environment:
        changed = e["changed"]
        rows.append(
            {
                "label": e["label"] + (" ⚠️" if changed and e["key"] in ("gpu_model", "gpu_count") else ""),
                "base": e["base"] if e["base"] is not None else "not recorded",
                "new": e["new"] if e["new"] is not None else "not recorded",
                "changed": "changed" if changed else "",
            }
        )
    return rows


def to_markdown(c: Comparison, limit: int = 30) -> str:
    """A PR comment: the verdict and summary line, the environment, what work changed, the gated (primary)
    rows, then the explanation ranked by how much of the step-time change each row accounts for."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from .report import _md_finalize, md_text
    from ..resources import templates_dir

    env = Environment(
        finalize=_md_finalize,  # every value printed is escaped unless built as Markdown here (report.Md)
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    notes = [md_text(visible(n)) for n in c.notes]
    primary = [m for m in c.metrics if m.role == "primary" and (m.gated or m.verdict in ("added", "removed"))]
    shown_primary = primary[:limit]
    explanation = [m for m in c.metrics if m.role != "primary" and m.verdict not in ("unchanged", "info")]
    ranked = [m for m in explanation if m.explains_pct is not None] or explanation
    rest = [m for m in explanation if m not in ranked]
    counts = {v: len([m for m in c.metrics if m.verdict == v]) for v in GATING_ORDER}
    return env.get_template("compare.md.j2").render(
        headline=headline(c),
        c=c,
        comparable=c.comparable,
        notes=notes,
        environment=_environment(c),
        hardware=md_text(visible(c.hardware_change or "")),
        work=[md_text(visible(w)) for w in c.work_changes],
        base=_side_text(c.base),
        new=_side_text(c.new),
        primary=[_table_row(m) for m in shown_primary],
        primary_more=max(0, len(primary) - limit),
        explanation=[_table_row(m) for m in ranked[:limit]],
        explanation_more=max(0, len(ranked) - limit) + len(rest),
        counts=counts,
        gated=len(c.gated),
        level=f"{100 * c.metric_confidence:.4g} %",
        min_share=f"{c.min_share:.1%}",
    )


def _clean(obj):
    if isinstance(obj, float):
        return None if math.isnan(obj) else ("inf" if math.isinf(obj) else obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def to_json(c: Comparison) -> str:
    d = _clean(c.to_dict())
    d["headline"] = headline(c)
    return json.dumps(d, indent=1, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    """A workflow command's message: the runner decodes %25, %0D and %0A; a raw line feed would end the command
    and let the rest of a name start one of its own. Control characters are shown, not sent to the log."""
    return visible(text, keep_newlines=True).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation_text(m: MetricComparison) -> str:
    subject = f"{m.label} of {_what(m)}" if m.key else _what(m)
    return (
        f"{subject}: {fmt_value(m.base_value, m.unit)} -> {fmt_value(m.new_value, m.unit)} ({fmt_pct(m)}); {m.reason}"
    )


def github_annotations(c: Comparison) -> str:
    """Workflow commands: ::error for each gated regression (or the hardware change that makes the result not
    comparable), ::warning for each metric that may be worse but could not be decided, then one ::notice with
    the verdict and summary line, so that every CI output carries the same verdict."""
    lines = []
    if not c.comparable:
        lines.append(f"::error title={_escape_property('Not comparable')}::{_escape_data(c.summary)}")
    for kind, title, rows in (
        ("error", "Performance regression", c.regressions),
        ("warning", "Inconclusive performance comparison", c.undecided),
    ):
        for m in rows:
            lines.append(f"::{kind} title={_escape_property(title)}::{_escape_data(_annotation_text(m))}")
    for note in c.notes:  # rows a side's conversion left out: every figure above excludes them (issue 17)
        if note.startswith("data quality:"):
            lines.append(f"::warning title={_escape_property('Data quality')}::{_escape_data(note)}")
    title = f"inferscope compare: {c.verdict}"
    lines.append(f"::notice title={_escape_property(title)}::{_escape_data(headline(c))}")
    return "".join(line + "\n" for line in lines)


# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF; ElementTree escapes
# markup characters but writes a forbidden one as it is, and the file then fails to parse in every CI viewer
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _XML_FORBIDDEN.sub("\ufffd", visible(text))  # names on one line, as the other outputs show them


def to_junit(c: Comparison) -> str:
    """JUnit XML: one test case per gated metric; regressions fail, metrics that may be worse but could not be
    decided are skipped; a result that is not comparable is one errored test case naming the hardware change."""
    gated = c.gated
    failures = len(c.regressions)
    skipped = len(c.undecided)
    errors = 0 if c.comparable else 1
    counts = {
        "name": "inferscope compare",
        "tests": str(len(gated) + errors),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
    }  # the same on the one suite and on the document that holds it
    suites = ET.Element("testsuites", **counts)
    suite = ET.SubElement(suites, "testsuite", **counts)
    props = ET.SubElement(suite, "properties")
    for k, v in (
        ("threshold", f"{c.threshold:g}"),
        ("confidence", f"{c.confidence:g}"),
        ("metric_confidence", f"{c.metric_confidence:.6g}"),
        ("base", " ".join(c.base.traces)),
        ("new", " ".join(c.new.traces)),
        ("verdict", c.verdict),
        ("summary", c.summary),
        *(("data_quality", n) for n in c.notes if n.startswith("data quality:")),
    ):
        ET.SubElement(props, "property", name=k, value=_xml(v))
    if errors:
        case = ET.SubElement(suite, "testcase", classname="inferscope.compare.environment", name="same hardware")
        ET.SubElement(case, "error", message=_xml(c.summary), type="not_comparable").text = _xml(c.summary)
    for m in gated:
        case = ET.SubElement(suite, "testcase", classname=_xml(f"inferscope.compare.{m.id}"), name=_xml(_what(m)))
        detail = _xml(_annotation_text(m))
        if m.verdict == "regression":
            ET.SubElement(case, "failure", message=detail, type="regression").text = detail
        elif m in c.undecided:
            ET.SubElement(case, "skipped", message=detail)
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
