"""The verdict corpus: expectation files, the checks they hold, and how each check is judged.

Shared by tests/test_verdict_corpus.py (one pytest item per check, so a known miss is one xfail and the rest of
the trace is still checked) and benchmarks/verdict_scorecard.py (hits, misses, false findings per trace).

An expectation file (tests/verdicts/*.json) holds one trace: where it is (`trace` relative to `root`: "shared"
for ../shared/traces, "repo" for the checkout; or `edit`, a function of tests/verdicts/edits.py that builds an
edited copy of a real trace), what a performance engineer would conclude from it, and why, in terms of what the
independent reader (tests/verdicts/reader.py) shows. Checks, each optionally `known_wrong: "issue 19 class N:
..."` (the product is wrong today; the test xfails strictly, so a fix shows as XPASS and the mark comes off):

* facts: premises of the judgements, checked on the reader alone ({"fact": name, "op": ">=", "value": x}; op
  "contains" for a list fact);
* headline: the class the headline must state, one of HEADLINE_CLASSES (or a list of acceptable ones);
* must: rules that must fire at `at_least` severity (default low); "a|b" accepts either rule;
* must_not: rules that must not fire above `above` severity (default info); rule "*" is any rule (the healthy
  case: nothing above low);
* says: a finding of `rule` at `at_least` severity names `text` in its summary or recommendation (the cause, not
  only the symptom: "pageable");
* numbers: a product metric against a reader fact, within `rel` (relative) or `abs` tolerance;
* ledger: the GPU idle claimed by the idle-owning rules adds up to at most the idle time the reader measures
  (issue 19's "one owner per idle nanosecond");
* mentions: some finding names one of the reader's strings (e.g. the NVTX range around the largest gap);
* devices: each active device's compute capability is the one the trace's device table states, or unknown;
* busy_headline: on an nsys export with GPU metrics, whether the headline adds the busy ledger's sentence
  ({"claims": true}: its shares of the measured kernel time, stalled / idle Tensor Cores / working, as the reader
  computes them from the raw samples, tests/verdicts/busy_reader.py; {"claims": false}: no such sentence);
* serving_headline: with a request file (`requests`, relative to the shared traces, or `requests_edit`, a function
  of tests/verdicts/edits.py that builds an edited copy of one), whether the headline names head-of-line blocking
  for inter-token latency ({"claims": true}: the slowest 1 % of token gaps, their count and both prefill-overlap
  shares as the reader measures them; {"claims": false}: no such sentence).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.verdicts import edits

HERE = Path(__file__).resolve().parent

# The headline vocabulary: what limits the trace, in the words a performance engineer would use first.
HEADLINE_CLASSES = {
    "gpu-bound": "the GPU was busy most of the span, on kernels",
    "copy-bound": "memory copies, not kernels, kept the GPU busy (or the host waited in copy calls)",
    "host-bound": "the GPU waited on CPU work between launches (the CPU sets the pace)",
    "launch-bound": "the GPU waited on kernel launch calls themselves (many tiny kernels)",
    "sync-bound": "the GPU idled while the host was blocked in synchronisation",
    "communication": "inter-GPU communication (or waiting for another rank) is the limiter",
    "dependency": "work waited on another stream, event or device",
    "cold-start": "one-shot start-up cost (lazy loading, JIT compilation, first calls) dominates the window",
    "idle": "the GPU sat idle for a cause the headline does not name",
    "cpu-only": "the trace holds no GPU work",
    "unknown": "the headline names no limiter this vocabulary knows",
}

SEVERITY = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

# Rules whose impact is GPU idle time (their SQL headers say so): between them they may claim each idle
# nanosecond once.
IDLE_RULES = (
    "gpu_time_util",
    "gpu_gaps",
    "idle_gap_attribution",
    "sync_stall",
    "cuda_api_sync",
    "host_bound_steps",
    "launch_overhead",
    "python_gpu_idle",
    "python_host_bound_steps",
    "input_pipeline_bound",
    "cold_start",
)

_CAUSE_WORDS = {
    "host-bound": "host-bound",
    "launch-bound": "launch-bound",
    "sync-bound": "sync-bound",
    "copy-bound": "copy-bound",
    "dependency-bound": "dependency",
    "load-bound": "cold-start",
    "unattributed": "idle",
}


def headline_class(headline: str) -> str:
    """The product's headline mapped onto HEADLINE_CLASSES: the lead clause (before the first colon) when it
    names a limiter, else the cause the idle sentence gives ("mostly host-bound"), else "idle"."""
    text = headline.lower()
    if text.startswith("this trace has no gpu work") or "no gpu work recorded" in text:
        return "cpu-only"
    lead = text.split(":", 1)[0]
    for cls, words in (
        ("cold-start", ("cold start", "cold-start", "warm-up", "start-up", "one-shot", "jit")),
        ("communication", ("communication", "nccl", "collective")),
        ("copy-bound", ("copy-bound",)),
        ("gpu-bound", ("gpu-bound", "compute-bound")),
        ("launch-bound", ("launch-bound",)),
        ("sync-bound", ("sync-bound",)),
        ("host-bound", ("host-bound", "cpu-bound")),
        ("dependency", ("dependency",)),
    ):
        if any(w in lead for w in words):
            return cls
    m = re.search(r"(?:mostly|largest share) ([a-z-]+)", text)
    if m and m.group(1) in _CAUSE_WORDS:
        return _CAUSE_WORDS[m.group(1)]
    if "idle" in lead:
        return "idle"
    return "unknown"


@dataclass(frozen=True)
class Check:
    case: str  # the expectation file's stem
    kind: str  # facts, headline, must, must_not, says, numbers, ledger, mentions, devices
    name: str  # unique within the case
    spec: dict

    @property
    def id(self) -> str:
        return f"{self.case}:{self.kind}:{self.name}"

    @property
    def known_wrong(self) -> str | None:
        return self.spec.get("known_wrong")


def expectation_files() -> list[Path]:
    return sorted(HERE.glob("*.json"))


def load(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["case"] = path.stem
    return doc


def checks(exp: dict) -> list[Check]:
    case = exp["case"]
    out = [Check(case, "facts", f"{f['fact']}{f['op']}{f['value']}", f) for f in exp.get("facts", [])]
    if "headline" in exp:
        out.append(Check(case, "headline", "class", exp["headline"]))
    out += [Check(case, "must", m["rule"], m) for m in exp.get("must", [])]
    out += [Check(case, "must_not", m["rule"], m) for m in exp.get("must_not", [])]
    out += [Check(case, "says", f"{m['rule']}~{m['text']}", m) for m in exp.get("says", [])]
    out += [Check(case, "numbers", n["metric"], n) for n in exp.get("numbers", [])]
    for kind in ("ledger", "mentions", "devices", "serving_headline", "busy_headline"):
        if kind in exp:
            out.append(Check(case, kind, kind, exp[kind]))
    return out


class Unavailable(Exception):
    """The case's trace cannot be had here (no shared traces, no nsys CLI); the message says why."""


def trace_paths(exp: dict, traces: Path, repo: Path, edited_dir: Path) -> list[Path]:
    """The trace files of a case: one, several for a glob (a fleet's ranks), or a freshly built edited copy."""
    if exp.get("needs") and shutil.which(exp["needs"]) is None:
        raise Unavailable(f"{exp['case']} needs the {exp['needs']} CLI to read its trace")
    if exp.get("root") in ("shared", "edit") and not traces.is_dir():
        raise Unavailable(f"shared traces not found at {traces}")
    if "edit" in exp:
        out = edited_dir / exp["case"]
        out.mkdir(parents=True, exist_ok=True)
        return [edits.BUILDERS[exp["edit"]](traces, out)]
    root = repo if exp.get("root") == "repo" else traces
    found = sorted(root.glob(exp["trace"]))
    if not found:
        raise FileNotFoundError(f"{exp['case']}: no trace matches {exp['trace']} under {root}")
    return found


def requests_path(exp: dict, traces: Path, edited_dir: Path) -> Path | None:
    """The request file a case joins to its trace (analyze --requests), or None for a case without one."""
    if "requests_edit" in exp:
        out = edited_dir / f"{exp['case']}-requests"
        out.mkdir(parents=True, exist_ok=True)
        return edits.REQUEST_BUILDERS[exp["requests_edit"]](traces, out)
    return traces / exp["requests"] if "requests" in exp else None


# The headline's head-of-line sentence (inferscope/analyze/headline.py), read back for its numbers.
_HOL_SENTENCE = re.compile(
    r"slowest 1 % of token gaps \(([\d,]+)[^)]*\) overlapped another request's prefill in ([\d.]+)% of cases vs "
    r"([\d.]+)% of the others \(head-of-line blocking\)"
)


# The headline's busy-ledger sentence (inferscope/analyze/headline.py), read back for its shares.
_BUSY_SENTENCE = re.compile(r"By the GPU's counters, of the [^,]+ of kernel time they measured, (.*)\.")
_BUSY_PARTS = {
    "stalled": re.compile(r"([\d.]+)% was resident but stalled"),
    "tensor_idle": re.compile(r"([\d.]+)% ran GEMMs with idle Tensor Cores"),
    "working": re.compile(r"([\d.]+)% was working"),
}


def findings_of(doc: dict, rule: str) -> list[dict]:
    """The findings of `rule`: one rule id, alternatives joined by "|" (any of them), "@idle" (any idle-owning
    rule: with one owner per idle nanosecond, which of them owns a gap is the product's call) or "*" (every
    rule)."""
    ids = set(rule.split("|"))
    if "@idle" in ids:
        ids |= set(IDLE_RULES)
    return [f for f in doc["findings"] if "*" in ids or f["rule_id"] in ids]


def metric(doc: dict, metric_id: str):
    return next((m["value"] for m in doc["metrics"] if m["id"] == metric_id and m["scope"] == "trace"), None)


def _op(a, op: str, b) -> bool:
    if op == "contains":
        return set(b) <= set(a)
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "==": a == b}[op]


def judge(check: Check, doc: dict | None, facts) -> tuple[bool, str]:
    """(passed, what was seen). `doc` is the product's analysis JSON (None for reader-only checks); `facts` the
    reader's Facts."""
    s = check.spec
    if check.kind == "facts":
        seen = facts.value(s["fact"])
        return _op(seen, s["op"], s["value"]), f"reader {s['fact']} = {seen!r}, expected {s['op']} {s['value']!r}"
    if check.kind == "headline":
        want = s["class"] if isinstance(s["class"], list) else [s["class"]]
        got = headline_class(doc["headline"])
        return got in want, f"headline class {got!r}, expected {' or '.join(want)}: {doc['headline']!r}"
    if check.kind == "must":
        floor = SEVERITY[s.get("at_least", "low")]
        hits = [f for f in findings_of(doc, s["rule"]) if SEVERITY[f["severity"]] >= floor]
        fired = [(f["rule_id"], f["severity"]) for f in findings_of(doc, s["rule"])]
        return bool(hits), f"{s['rule']} at {s.get('at_least', 'low')} or above: fired as {fired or 'nothing'}"
    if check.kind == "must_not":
        ceiling = SEVERITY[s.get("above", "info")]
        bad = [f for f in findings_of(doc, s["rule"]) if SEVERITY[f["severity"]] > ceiling]
        shown = [f"[{f['severity']}] {f['rule_id']}: {f['title']} ({f['impact_ns']} ns)" for f in bad]
        return not bad, f"{s['rule']} above {s.get('above', 'info')}: {shown or 'none'}"
    if check.kind == "says":
        floor = SEVERITY[s.get("at_least", "low")]
        cands = [f for f in findings_of(doc, s["rule"]) if SEVERITY[f["severity"]] >= floor]
        said = [f["rule_id"] for f in cands if s["text"].lower() in (f["summary"] + " " + f["recommendation"]).lower()]
        return bool(said), f"{s['rule']} at {s.get('at_least', 'low')}+ saying {s['text']!r}: {said or 'none'}"
    if check.kind == "numbers":
        got, want = metric(doc, s["metric"]), facts.value(s["fact"])
        if want is None or got is None:
            return got == want, f"{s['metric']} = {got!r}, reader {s['fact']} = {want!r}"
        tol = max(s.get("abs", 0), s.get("rel", 0) * abs(want))
        return abs(got - want) <= tol, f"{s['metric']} = {got!r}, reader {s['fact']} = {want!r} (tolerance {tol:g})"
    if check.kind == "ledger":
        claims = [f for f in doc["findings"] if f["rule_id"] in IDLE_RULES]
        total = sum(f["impact_ns"] for f in claims)
        limit = facts.idle_ns * (1 + s.get("rel", 0.01))
        by_rule: dict[str, int] = {}
        for f in claims:
            by_rule[f["rule_id"]] = by_rule.get(f["rule_id"], 0) + f["impact_ns"]
        return total <= limit, f"idle claimed {total} ns by {by_rule}; reader idle {facts.idle_ns} ns"
    if check.kind == "mentions":
        words = facts.value(s["fact"])
        text = json.dumps(doc["findings"]) + doc["headline"]
        found = [w for w in words if w in text]
        return bool(found), f"reader {s['fact']} = {words}; named in findings: {found or 'none'}"
    if check.kind == "devices":
        wrong = []
        for d in doc.get("devices", []):
            if not d.get("kernel_count"):
                continue
            stated = facts.compute_capability.get(d["device_id"])
            got = (d.get("compute_major"), d.get("compute_minor"))
            if (stated is None and got != (None, None)) or (stated is not None and got != stated):
                wrong.append(f"device {d['device_id']}: {got}, trace states {stated or 'nothing'}")
        return not wrong, "; ".join(wrong) or "every active device's compute capability is as stated"
    if check.kind == "serving_headline":
        m = _HOL_SENTENCE.search(doc["headline"])
        if not s["claims"]:
            return m is None and "head-of-line" not in doc["headline"], f"headline: {doc['headline']!r}"
        if m is None:
            return False, f"no head-of-line sentence in the headline: {doc['headline']!r}"
        n, tail, rest = int(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3))
        want = (facts.tail_gap_count, facts.tail_gap_prefill_pct, facts.rest_gap_prefill_pct)
        ok = n == want[0] and abs(tail - want[1]) <= 0.051 and abs(rest - want[2]) <= 0.051
        return (
            ok,
            f"headline says {n} gaps, {tail}% vs {rest}%; reader {want[0]} gaps, {want[1]:.2f}% vs {want[2]:.2f}%",
        )
    if check.kind == "busy_headline":
        return _judge_busy_headline(s, doc["headline"], facts)
    raise ValueError(f"unknown check kind {check.kind}")


def _judge_busy_headline(spec: dict, headline: str, facts) -> tuple[bool, str]:
    """The busy-ledger sentence is there exactly when the claim says so, and its shares are the reader's within
    0.1 percentage point (the product scales kernel time to the busy union, which leaves shares unchanged on one
    GPU)."""
    m = _BUSY_SENTENCE.search(headline)
    split = facts.kernel_busy_split or {}
    total = sum(split.values())
    want = {k: 100 * v / total for k, v in split.items()} if total else {}
    seen = f"reader shares { ({k: round(v, 2) for k, v in want.items()}) }; headline: {headline!r}"
    if not spec["claims"]:
        return m is None, seen
    if m is None or not want:
        return False, seen
    said = {k: float(p.search(m.group(1)).group(1)) for k, p in _BUSY_PARTS.items() if p.search(m.group(1))}
    ok = all(abs(said.get(k, 0.0) - want[k]) <= 0.1 for k in want)
    return ok, f"headline shares {said}; {seen}"
