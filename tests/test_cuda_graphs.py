"""CUDA graphs (issue 22): kernels replayed from a graph are told apart from kernels launched one by one, belong to
the step whose cudaGraphLaunch replayed them, make up the reported replay share, and never feed the launch-overhead
finding; graph capture is one-time set-up, reported apart from the replays.

The PyTorch profiler records no graph id: every kernel of one replay carries the correlation id of the
cudaGraphLaunch that ran it. What each test expects is computed from the raw JSON in plain Python with that rule,
on the shared H200 recordings (the same generation eager and with CUDA-graph decode, PROVENANCE.md) and on the
vLLM B200 trace; the capture case is an edited copy of the graph recording, named as such.
"""

from __future__ import annotations

import pytest

from tests import kineto_edits
from tests.conftest import TRACES

EAGER = TRACES / "h200" / "h200_llm_decode_eager.json.gz"
GRAPH = TRACES / "h200" / "h200_llm_decode_cudagraph.json.gz"
VLLM = TRACES / "kineto" / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"

pytestmark = pytest.mark.skipif(not GRAPH.exists(), reason=f"shared traces not found ({TRACES})")

CALLS = ("cuda_runtime", "cuda_driver")


def _calls(doc: dict) -> dict[int, dict]:
    """Runtime/driver calls by correlation id."""
    return {
        e["args"]["correlation"]: e
        for e in doc["traceEvents"]
        if e.get("cat") in CALLS and e.get("ph") == "X" and "correlation" in e.get("args", {})
    }


def _kernels(doc: dict) -> list[dict]:
    return [e for e in doc["traceEvents"] if e.get("cat") == "kernel" and e.get("ph") == "X"]


def _graph_kernels(doc: dict) -> list[dict]:
    calls = _calls(doc)
    return [
        k
        for k in _kernels(doc)
        if calls.get(k["args"].get("correlation"), {}).get("name", "").startswith(("cudaGraphLaunch", "cuGraphLaunch"))
    ]


def test_graph_replayed_kernels_are_the_graph_launches_kernels(open_trace):
    """Every kernel whose launch call is a cudaGraphLaunch, and no other, is a graph node; 64 replays of one
    decode step (PROVENANCE.md) hold the same number of kernels each."""
    doc = kineto_edits.load(GRAPH)
    expected = _graph_kernels(doc)
    per_replay: dict[int, int] = {}
    for k in expected:
        per_replay[k["args"]["correlation"]] = per_replay.get(k["args"]["correlation"], 0) + 1
    assert len(per_replay) == 64 and len(set(per_replay.values())) == 1  # the recording's truth

    t = open_trace(GRAPH)
    got = t.sql("SELECT graph_id, count(*) AS n FROM kernels WHERE graph_id IS NOT NULL GROUP BY graph_id")
    assert dict(zip(got["graph_id"].tolist(), got["n"].tolist())) == per_replay
    eager = open_trace(EAGER).sql("SELECT count(*) AS n FROM kernels WHERE graph_id IS NOT NULL")
    assert int(eager["n"][0]) == 0


def test_graph_kernels_belong_to_the_step_that_launched_them(open_trace):
    """Per decode step, the kernels whose launch call (for graph nodes: the cudaGraphLaunch) began inside the step's
    range, counted from the JSON; each graph replay counts as one launch call."""
    doc = kineto_edits.load(GRAPH)
    calls = _calls(doc)
    steps = kineto_edits.steps(doc, kineto_edits.re.compile(r"^(prefill|decode_step)$"))
    launches_of = {c: calls[c] for c in {k["args"].get("correlation") for k in _kernels(doc)} if c in calls}
    expected = []
    for s in steps:
        inside = {c for c, e in launches_of.items() if s["ts"] <= e["ts"] < s["ts"] + s["dur"]}
        kernels = sum(1 for k in _kernels(doc) if k["args"].get("correlation") in inside)
        graphs = sum(1 for c in inside if calls[c]["name"] == "cudaGraphLaunch")
        expected.append((s["name"], kernels, graphs))
    assert sum(g for _, _, g in expected) == 64 and all(g == 1 for n, _, g in expected if n == "decode_step")

    t = open_trace(GRAPH)
    got = t.sql(
        "SELECT s.name, s.kernel_count, count(DISTINCT l.graph_id) AS graphs FROM steps s "
        "LEFT JOIN cuda_launches l ON l.graph_id IS NOT NULL AND l.pid = s.pid "
        "AND l.api_start_ns >= s.start_ns AND l.api_start_ns < s.end_ns GROUP BY s.step_id, s.name, s.kernel_count "
        "ORDER BY s.step_id"
    )
    assert list(zip(got["name"], got["kernel_count"].tolist(), got["graphs"].tolist())) == expected


@pytest.mark.parametrize("path", [GRAPH, EAGER, VLLM], ids=["cudagraph", "eager", "vllm_eager"])
def test_replay_share_and_short_kernels_count_only_what_they_say(open_trace, path):
    """graph_kernel_time_pct is the graph nodes' share of all kernel time; short_kernel_pct judges only the kernels
    launched one by one (a graph node has no launch call of its own to be shorter than)."""
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared traces")
    doc = kineto_edits.load(path)
    calls = _calls(doc)
    graph = {id(k) for k in _graph_kernels(doc)}
    kernels = _kernels(doc)
    replay_pct = sum(k["dur"] for k in kernels if id(k) in graph) * 100 / sum(k["dur"] for k in kernels)
    one_by_one = [k for k in kernels if id(k) not in graph and k["args"].get("correlation") in calls]
    short_pct = sum(k["dur"] < calls[k["args"]["correlation"]]["dur"] for k in one_by_one) * 100 / len(one_by_one)

    m = {x.id: x.value for x in open_trace(path).metrics() if x.device_id is None and x.key is None}
    assert m["graph_kernel_time_pct"] == pytest.approx(replay_pct, rel=1e-6, abs=1e-9)
    assert m["graph_launch_count"] == sum(1 for e in calls.values() if e["name"] == "cudaGraphLaunch")
    # Kineto stores µs with three decimals: a kernel and its call can tie at the nanosecond, never reorder
    assert m["short_kernel_pct"] == pytest.approx(short_pct, abs=100 / len(one_by_one))
    if path == GRAPH:
        assert replay_pct > 80  # decode dominates the generation (PROVENANCE.md: 6.4x faster than eager)


def test_launch_overhead_never_counts_graph_replayed_kernels(open_trace):
    """On the graph recording the launch-overhead finding may speak only of the eager prefill's kernels: its
    evidence counts no graph node, and it does not call a process that already replays graphs a CUDA-graph
    candidate. On the eager recording of the same generation it does."""
    doc = kineto_edits.load(GRAPH)
    calls = _calls(doc)
    graph = {id(k) for k in _graph_kernels(doc)}
    one_by_one = sum(1 for k in _kernels(doc) if id(k) not in graph and k["args"].get("correlation") in calls)

    found = [f for f in open_trace(GRAPH).analyze().findings if f.rule_id == "launch_overhead"]
    for f in found:
        assert int(f.evidence.to_pydict()["all_kernels"][0]) == one_by_one
        assert "CUDA-graph candidate" not in f.summary
        assert f"{len(graph):,} more ran as CUDA-graph nodes" in f.summary
    eager = [f for f in open_trace(EAGER).analyze().findings if f.rule_id == "launch_overhead"]
    assert eager and "CUDA-graph candidate" in eager[0].summary


def _with_capture(tmp_path):
    """The graph recording with a stream capture inserted on its main thread before its first event
    (cudaStreamBeginCapture, ten cudaLaunchKernel calls recorded into the graph, cudaStreamEndCapture, then
    cudaGraphInstantiate), as torch.cuda.graph() makes when the profiler is on during capture. Returns the path and
    the capture's and instantiation's durations in ns, from the inserted events."""
    doc = kineto_edits.load(GRAPH)
    main = next(e for e in doc["traceEvents"] if e.get("name") == "cudaGraphLaunch")
    pid, tid = main["pid"], main["tid"]
    t0 = min(e["ts"] for e in doc["traceEvents"] if e.get("ph") == "X") - 2000.0
    corr = max(_calls(doc)) + 1

    def call(name, ts, dur):
        nonlocal corr
        corr += 1
        return {"ph": "X", "cat": "cuda_runtime", "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur,
                "args": {"cbid": 0, "correlation": corr}}  # fmt: skip

    inserted = [call("cudaStreamBeginCapture", t0, 6.0)]
    inserted += [call("cudaLaunchKernel", t0 + 10 + 12 * i, 5.0) for i in range(10)]
    inserted += [call("cudaStreamEndCapture", t0 + 140, 35.0), call("cudaGraphInstantiate", t0 + 200, 420.0)]
    doc["traceEvents"] = inserted + doc["traceEvents"]
    return kineto_edits.save(doc, tmp_path / "cudagraph_with_capture.json.gz"), (140 + 35) * 1000, 420 * 1000


def test_capture_is_set_up_apart_from_the_replays(tmp_path, open_trace):
    """The inserted capture is one row of cuda_graph_captures with its twelve calls, the instantiation another;
    graph_capture_ns is their host time; the launch calls recorded into the graph ran nothing, so the launch
    count, the replay share and the launch-overhead evidence are those of the unedited recording."""
    path, capture_ns, instantiate_ns = _with_capture(tmp_path)
    t = open_trace(path)
    rows = t.sql("SELECT kind, dur_ns, api_calls FROM cuda_graph_captures ORDER BY start_ns")
    assert list(zip(rows["kind"], rows["dur_ns"].tolist(), rows["api_calls"].tolist())) == [
        ("capture", capture_ns, 12),
        ("instantiate", instantiate_ns, 1),
    ]
    edited = {x.id: x.value for x in t.metrics() if x.device_id is None and x.key is None}
    plain = {x.id: x.value for x in open_trace(GRAPH).metrics() if x.device_id is None and x.key is None}
    assert edited["graph_capture_ns"] == capture_ns + instantiate_ns and edited["graph_capture_count"] == 1
    assert plain["graph_capture_ns"] == 0 and plain["graph_capture_count"] == 0
    for mid in ("launch_call_count", "graph_launch_count", "graph_kernel_time_pct", "short_kernel_pct"):
        assert edited[mid] == pytest.approx(plain[mid]), mid
