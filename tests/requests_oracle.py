"""Independent computations for the request-join tests (issue 22): plain Python over the raw files of the shared
H200 serving recordings (sqlite3 for the Nsight Systems export, json for the PyTorch-profiler trace and the
request files), never InferScope. The tests compare InferScope's views with these."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import statistics

from tests.conftest import TRACES

H200 = TRACES / "h200"
NSYS_GZ = H200 / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz"
NSYS_REQUESTS = H200 / "h200_nsys_serving_requests.jsonl"
KINETO = H200 / "h200_serving_continuous_batching.json.gz"
KINETO_REQUESTS = H200 / "h200_serving_requests.jsonl"
STEP = re.compile(r"^execute_context_(\d+)\((\d+)\)_generation_(\d+)\((\d+)\)")


def union(intervals):
    """Sorted, merged [start, end] intervals (touching ones merge, as gpu_busy does)."""
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def overlap(busy, a, b):
    """Time of the interval union `busy` inside [a, b]."""
    return sum(max(0, min(e, b) - max(s, a)) for s, e in busy)


def requests(path, zero_utc):
    """Completed requests on the trace clock: id -> dict(start, first, end, chunk times)."""
    out = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        m = r["metrics"]
        start = r["metadata"]["timestamp_ns"] - zero_utc
        first = start + round(m["ttft"]["value"] * 1e6)
        chunks, t = [], first
        for gap in m["inter_chunk_latency"]["value"]:
            t += round(gap * 1e6)
            chunks.append(t)
        out[r["metadata"]["x_request_id"]] = {
            "start": start,
            "first": first,
            "end": start + round(m["request_latency"]["value"] * 1e6),
            "chunks": chunks,
        }
    return out


def in_flight(requests):
    """[(start, end, count)] of constant in-flight count, ends before starts at the same instant."""
    edges = sorted([(r["start"], 1) for r in requests.values()] + [(r["end"], -1) for r in requests.values()])
    out, level = [], 0
    for (t, d), nxt in zip(edges, edges[1:] + [(None, 0)]):
        level += d
        if nxt[0] is not None and nxt[0] > t:
            out.append((t, nxt[0], level))
    return out


def expected(requests, steps, busy):
    """Per request what request_gpu should say, from the raw rows."""
    conc = in_flight(requests)
    out = {}
    for rid, r in requests.items():
        prefills = [s for s in steps if s["n"] > 0 and s["start"] >= r["start"] and s["end"] <= r["first"]]
        own = max(prefills, key=lambda s: s["end"]) if prefills else None
        decode = [s for s in steps if s["n"] == 0 and s["m"] > 0 and s["start"] < r["end"] and s["end"] > r["first"]]
        hol = [s for s in steps if s["n"] > 0 and s["start"] < r["end"] and s["end"] > r["first"]]
        live = [(a, b, c) for a, b, c in conc if a < r["end"] and b > r["start"]]
        out[rid] = {
            "queue_ns": own["start"] - r["start"] if own else None,
            "prefill_ns": own["end"] - own["start"] if own else None,
            "steps": sum(1 for s in steps if s["start"] < r["end"] and s["end"] > r["start"]),
            "decode_steps": len(decode),
            "mean_batch": statistics.fmean(s["m"] for s in decode) if decode else None,
            "gpu_busy_ns": overlap(busy, r["start"], r["end"]),
            "max_in_flight": max(c for _, _, c in live),
            "hol_prefills": len(hol),
            "hol_ns": sum(min(s["end"], r["end"]) - max(s["start"], r["first"]) for s in hol),
        }
    return out


def hol_pairs(requests, steps):
    """(prefill, running request) pairs and whether the running request's next token waited the whole prefill."""
    pairs = []
    for s in steps:
        if s["n"] == 0:
            continue
        for r in requests.values():
            if r["first"] <= s["start"] and r["end"] >= s["end"]:
                before = max([r["first"]] + [c for c in r["chunks"] if c <= s["start"]])
                after = min([c for c in r["chunks"] if c >= s["end"]], default=None)
                if after is not None:
                    pairs.append(after - before >= s["end"] - s["start"])
    return pairs


def nsys_raw(directory):
    """The export decompressed into `directory`; (path, session start UTC, steps, GPU busy union, requests)."""
    path = directory / "h200_nsys_llm_serving_nsys2025.3.sqlite"
    with gzip.open(NSYS_GZ, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    con = sqlite3.connect(path)
    zero = con.execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()[0]
    steps = []
    for text, start, end in con.execute(
        "SELECT text, start, end FROM NVTX_EVENTS WHERE text LIKE 'execute_context_%' AND end > start ORDER BY start"
    ):
        n, t, m, g = map(int, STEP.match(text).groups())
        steps.append({"start": start, "end": end, "n": n, "m": m})
    ops = []
    for table in ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"):
        ops += con.execute(f"SELECT start, end FROM {table}").fetchall()
    devices = con.execute("SELECT count(DISTINCT deviceId) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    con.close()
    assert devices == 1  # one GPU: its busy union is the trace's
    return path, zero, steps, union(ops), requests(NSYS_REQUESTS, zero)


def kineto_raw():
    """(steps, GPU busy union, requests) on the JSON's own clock (µs * 1000; requests: UTC - baseTimeNanoseconds)."""
    d = json.loads(gzip.open(KINETO, "rt").read())
    ev = d["traceEvents"]
    ops = [
        (e["ts"] * 1000, (e["ts"] + e["dur"]) * 1000)
        for e in ev
        if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset") and e.get("ph") == "X"
    ]
    steps = []
    for e in ev:
        if e.get("cat") == "user_annotation" and STEP.match(e.get("name", "")):
            n, t, m, g = map(int, STEP.match(e["name"]).groups())
            steps.append({"start": e["ts"] * 1000, "end": (e["ts"] + e["dur"]) * 1000, "n": n, "m": m})
    steps.sort(key=lambda s: s["start"])
    return steps, union(ops), requests(KINETO_REQUESTS, d["baseTimeNanoseconds"])


def p99(values):
    """numpy's default (linear) percentile, as DuckDB's quantile_cont."""
    xs = sorted(values)
    k = (len(xs) - 1) * 0.99
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)


def chunk_tail(requests, steps):
    """(tail count, tail share overlapping a prefill, rest share) over every chunk gap of the requests."""
    gaps = []
    for r in requests.values():
        prev = r["first"]
        for c in r["chunks"]:
            gaps.append((prev, c))
            prev = c
    cut = min(p99([b - a for a, b in gaps]), max(b - a for a, b in gaps))

    def with_prefill(a, b):
        return any(s["n"] > 0 and s["start"] < b and s["end"] > a for s in steps)

    tail = [g for g in gaps if g[1] - g[0] >= cut]
    rest = [g for g in gaps if g[1] - g[0] < cut]
    share = [100.0 * sum(with_prefill(a, b) for a, b in part) / len(part) for part in (tail, rest)]
    return len(tail), share[0], share[1]


KERNEL_CLASSES = (
    ("attention", re.compile(r"(?i)(sdpa|flash|fmha|attention|attn)")),
    ("gemm", re.compile(r"(?i)(gemm|gemv|matmul|nvjet|cublas|cutlass|xmma|splitkreduce)")),
    ("norm_softmax", re.compile(r"(?i)(norm|softmax)")),
    ("elementwise", re.compile(r"(?i)elementwise")),
    ("reduction", re.compile(r"(?i)reduce")),
)


def kernel_class(name):
    if "nccl" in name.lower():
        return "comm"
    return next((label for label, rx in KERNEL_CLASSES if rx.search(name)), "other")


def nsys_ops_by_class(path):
    """[(start, end, class)] of every GPU operation of the export, kernels classed by their demangled name."""
    con = sqlite3.connect(path)
    out = [
        (s, e, kernel_class(n))
        for s, e, n in con.execute(
            "SELECT k.start, k.end, s.value FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s ON s.id = k.demangledName"
        )
    ]
    for table in ("CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"):
        out += [(s, e, "copy") for s, e in con.execute(f"SELECT start, end FROM {table}")]
    con.close()
    return out
