"""Outputs of `inferscope compare --fleet`: Markdown (a PR comment) and JSON, both of one FleetComparison, so the
gate's verdict and its explanation read the same in either."""

from __future__ import annotations

import json

from ..comparison.fleet import FleetComparison
from ..errors import visible

FORMATS = ("md", "json")
_HEADLINE = {
    "regression": "Regression: the job's step time grew beyond the threshold",
    "improvement": "Improvement: the job's step time fell beyond the threshold",
    "pass": "Pass: the job's step time is within the threshold",
    "not_comparable": "Not comparable",
}


def _ms(ns) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def _signed(ns) -> str:
    return "-" if ns is None else f"{ns / 1e6:+.2f}"


def to_markdown(c: FleetComparison) -> str:
    lines = [
        f"# InferScope fleet compare: {_HEADLINE[c.verdict]}",
        "",
        f"Base `{visible(c.base)}` ({c.base_world_size} ranks) vs new `{visible(c.new)}` ({c.new_world_size} ranks).",
        "",
    ]
    lines += [f"- {visible(e)}" for e in c.explanation]
    lines += ["", "## Per rank (ms)", ""]
    header = ["rank", "step base", "step new", "Δ step", "compute Δ", "comm Δ", "waited Δ", "caused wait base",
              "caused wait new"]  # fmt: skip
    lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for r in c.ranks:

        def delta(key: str, r=r) -> str:
            old, now = r[f"base_{key}"], r[f"new_{key}"]
            return "-" if old is None or now is None else _signed(now - old)

        mark = " *" if r["rank"] == c.new_straggler else ""
        cells = [f"{r['rank']}{mark}", _ms(r["base_step_ns"]), _ms(r["new_step_ns"]), _signed(r["delta_step_ns"]),
                 delta("compute_ns"), delta("comm_ns"), delta("waited_ns"), _ms(r["base_caused_wait_ns"]),
                 _ms(r["new_caused_wait_ns"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "\\* the new fleet's straggler.", ""]
    lines += [f"Base verdict: {visible(c.base_verdict)}", "", f"New verdict: {visible(c.new_verdict)}", ""]
    lines += [f"Note: {visible(n)}" for n in c.notes]
    return "\n".join(lines) + "\n"


def to_json(c: FleetComparison) -> str:
    return json.dumps(c.to_dict(), indent=1, default=str) + "\n"


def render(c: FleetComparison, fmt: str) -> str:
    return {"md": to_markdown, "json": to_json}[fmt](c)
