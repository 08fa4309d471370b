"""python_samples and python_frames_during on small inline tables (expected rows worked out by hand)."""

from __future__ import annotations

import pyarrow as pa

from inferscope.engine.core import Engine

STDLIB = "/usr/lib/python3.11"


def _engine() -> Engine:
    # stack 10: tokenize <- encode <- <module>; stack 20: Condition.wait <- Queue.get (stdlib) <- worker;
    # stack 30: only stdlib frames; stack 99 belongs to an nsys sample and must be ignored
    frames = [
        (10, 0, "tokenize", "/app/tok.py", 88),
        (10, 1, "encode", "/app/tok.py", 40),
        (10, 2, "<module>", "/app/run.py", 1),
        (20, 0, "Condition.wait", f"{STDLIB}/threading.py", 320),
        (20, 1, "Queue.get", f"{STDLIB}/queue.py", 171),
        (20, 2, "worker", "/app/srv.py", 12),
        (30, 0, "Event.wait", f"{STDLIB}/threading.py", 629),
        (30, 1, "_bootstrap", f"{STDLIB}/threading.py", 1002),
        (99, 0, "memcpy", "libc.so.6", None),
    ]
    samples = [  # (id, ts, pid, tid, state, gil, stack, source)
        (1, 100, 7, 11, "running", True, 10, "python"),
        (2, 110, 7, 11, "running", True, 10, "python"),
        (3, 120, 7, 11, "running", False, 10, "python"),
        (4, 130, 7, 11, "idle", False, 20, "python"),
        (5, 140, 7, 12, "idle", False, 30, "python"),
        (6, 150, 7, 11, "running", True, 10, "python"),  # outside the [100, 150) window
        (7, 115, 7, 11, "running", None, 99, "nsys"),
    ]
    tables = {
        "stack_frames": pa.table(
            {k: [f[i] for f in frames] for i, k in enumerate(["stack_id", "depth", "function", "file", "line"])}
        ),
        "cpu_samples": pa.table(
            {
                k: [s[i] for s in samples]
                for i, k in enumerate(["sample_id", "ts_ns", "pid", "tid", "state", "holds_gil", "stack_id", "source"])
            }
        ),
        "threads": pa.table({"pid": [7, 7], "tid": [11, 12], "name": ["MainThread", "loader"], "priority": [0, 0]}),
    }
    return Engine(tables=tables)


def test_python_samples_picks_the_code_frame_outside_the_stdlib():
    e = _engine()
    rows = e.query(
        "SELECT sample_id, thread_name, leaf_function, code_function, code_line, code_depth, depth "
        "FROM python_samples ORDER BY sample_id"
    ).to_pylist()
    assert [r["sample_id"] for r in rows] == [1, 2, 3, 4, 5, 6]  # the nsys sample is not a Python sample
    assert rows[0] == {
        "sample_id": 1,
        "thread_name": "MainThread",
        "leaf_function": "tokenize",
        "code_function": "tokenize",
        "code_line": 88,
        "code_depth": 0,
        "depth": 3,
    }
    assert rows[3] == {
        "sample_id": 4,
        "thread_name": "MainThread",
        "leaf_function": "Condition.wait",
        "code_function": "worker",
        "code_line": 12,
        "code_depth": 2,
        "depth": 3,
    }
    # a stack made only of stdlib frames falls back to its leaf
    assert (rows[4]["code_function"], rows[4]["code_depth"]) == ("Event.wait", 0)


def test_python_frames_during_one_thread():
    e = _engine()
    rows = e.query(
        "SELECT tid, thread_name, function, file, line, samples, running_samples, gil_samples, "
        "share_pct, first_ts_ns, last_ts_ns FROM python_frames_during(100, 150, 7, 11)"
    ).to_pylist()
    assert rows == [
        {
            "tid": 11,
            "thread_name": "MainThread",
            "function": "tokenize",
            "file": "/app/tok.py",
            "line": 88,
            "samples": 3,
            "running_samples": 3,
            "gil_samples": 2,
            "share_pct": 75.0,
            "first_ts_ns": 100,
            "last_ts_ns": 120,
        },
        {
            "tid": 11,
            "thread_name": "MainThread",
            "function": "worker",
            "file": "/app/srv.py",
            "line": 12,
            "samples": 1,
            "running_samples": 0,
            "gil_samples": 0,
            "share_pct": 25.0,
            "first_ts_ns": 130,
            "last_ts_ns": 130,
        },
    ]


def test_python_frames_during_all_threads_of_a_process():
    e = _engine()
    rows = e.query("SELECT tid, function, samples, share_pct FROM python_frames_during(0, 1000, 7, NULL)").to_pylist()
    assert rows == [
        {"tid": 11, "function": "tokenize", "samples": 4, "share_pct": 80.0},
        {"tid": 11, "function": "worker", "samples": 1, "share_pct": 20.0},
        {"tid": 12, "function": "Event.wait", "samples": 1, "share_pct": 100.0},
    ]
