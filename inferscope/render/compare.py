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
from ..comparison.core import GATING_ORDER, Comparison, MetricComparison
from ..comparison.names import display_name

VERDICT_LABEL = {
    "regression": "❌ regression",
    "inconclusive": "❔ inconclusive",
    "improvement": "✅ improvement",
    "within_noise": "〰️ within noise",
    "unchanged": "unchanged",
    "added": "added",
    "removed": "removed",
    "info": "info",
}
HEADLINE = {"regression": "❌", "inconclusive": "❔", "pass": "✅"}
NAME_WIDTH = 150


def fmt_value(value: float | None, unit: str) -> str:
    """A value with a readable unit: nanoseconds scaled to us/ms/s, counts with two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "ns":
        for scale, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
            if abs(value) >= scale:
                return f"{value / scale:,.3g} {name}" if abs(value) < 1000 * scale else f"{value / scale:,.0f} {name}"
        return f"{value:,.0f} ns"
    if unit in ("calls", "count", ""):
        return f"{value:,.2f}".rstrip("0").rstrip(".") + (f" {unit}" if unit else "")
    return f"{value:,.4g} {unit}"


def fmt_pct(m: MetricComparison) -> str:
    if m.delta_pct is None:
        return "–"
    return f"{m.delta_pct:+.1f} %"


def fmt_interval(m: MetricComparison) -> str:
    if m.ratio_low is None or math.isnan(m.ratio_low):
        return "–"
    return f"{m.ratio_low:.3f}–{m.ratio_high:.3f}"


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
    return {
        "verdict": VERDICT_LABEL[m.verdict] + ("" if m.gated or m.verdict == "info" else " (not gated)"),
        "metric": m.label,
        "what": _md_name(_what(m)),
        "base": fmt_value(m.base_value, m.unit),
        "new": fmt_value(m.new_value, m.unit),
        "change": fmt_pct(m),
        "interval": fmt_interval(m),
        "samples": _samples(m),
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
    t = f"{c.threshold:.0%}" if c.threshold * 100 == int(c.threshold * 100) else f"{c.threshold:.1%}"
    counts = {v: len(c._gated(v)) for v in GATING_ORDER}
    if c.verdict == "regression":
        text = f"{counts['regression']} regression{'s' if counts['regression'] != 1 else ''} beyond {t}"
    elif c.verdict == "inconclusive":
        text = f"no regression found, {counts['inconclusive']} inconclusive (too little data)"
    else:
        text = f"no regression beyond {t}"
    return f"{HEADLINE[c.verdict]} {text}"


def to_markdown(c: Comparison, limit: int = 30) -> str:
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
    flagged = [
        m for m in c.metrics if m.gated and m.verdict in ("regression", "inconclusive", "improvement", "within_noise")
    ]
    counts = {v: len([m for m in c.metrics if m.verdict == v]) for v in GATING_ORDER}
    # the details list what was gated, and ungated rows only when they moved; the rest is counted
    rest = [m for m in c.metrics if m not in flagged and (m.gated or m.verdict not in ("unchanged", "info"))]
    return env.get_template("compare.md.j2").render(
        headline=headline(c),
        c=c,
        notes=notes,
        base=_side_text(c.base),
        new=_side_text(c.new),
        flagged=[_table_row(m) for m in flagged[:limit]],
        flagged_more=max(0, len(flagged) - limit),
        rest=[_table_row(m) for m in rest[: limit * 3]],
        rest_more=max(0, len(rest) - limit * 3),
        counts=counts,
        quiet=len(c.metrics) - len(flagged) - len(rest),
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
    return (
        f"{m.label} of {_what(m)}: {fmt_value(m.base_value, m.unit)} -> {fmt_value(m.new_value, m.unit)} "
        f"({fmt_pct(m)}); {m.reason}"
    )


def github_annotations(c: Comparison) -> str:
    """Workflow commands: ::error for each gated regression, ::warning for each inconclusive metric."""
    lines = []
    for kind, title, rows in (
        ("error", "Performance regression", c.regressions),
        ("warning", "Inconclusive performance comparison", c.inconclusive),
    ):
        for m in rows:
            lines.append(f"::{kind} title={_escape_property(title)}::{_escape_data(_annotation_text(m))}")
    return "".join(line + "\n" for line in lines)


# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF; ElementTree escapes
# markup characters but writes a forbidden one as it is, and the file then fails to parse in every CI viewer
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _XML_FORBIDDEN.sub("\ufffd", visible(text))  # names on one line, as the other outputs show them


def to_junit(c: Comparison) -> str:
    """JUnit XML: one test case per gated metric; regressions fail, inconclusive metrics are skipped."""
    gated = c.gated
    failures = len(c.regressions)
    skipped = len(c.inconclusive)
    counts = {
        "name": "inferscope compare",
        "tests": str(len(gated)),
        "failures": str(failures),
        "errors": "0",
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
    ):
        ET.SubElement(props, "property", name=k, value=_xml(v))
    for m in gated:
        case = ET.SubElement(suite, "testcase", classname=_xml(f"inferscope.compare.{m.id}"), name=_xml(_what(m)))
        detail = _xml(_annotation_text(m))
        if m.verdict == "regression":
            ET.SubElement(case, "failure", message=detail, type="regression").text = detail
        elif m.verdict == "inconclusive":
            ET.SubElement(case, "skipped", message=detail)
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
