"""Cost of inferscope.scope()/mark_event() per call, in ns, for each backend.

    python benchmarks/bench_annotate.py [--number 200000] [--repeat 7]

Each configuration runs in its own interpreter (the backend is chosen from the environment at import) and reports
the best of --repeat timings (the figures include the loop). "plain call" is the same call shape to an empty
Python function (`plain('decode', request=7, ...)`), timed interleaved in the same interpreter, so the
annotation's own cost can be read against the machine's speed and load.
The NVTX rows run outside a profiler (INFERSCOPE_NVTX=1): NVTX itself then does nothing, so they measure
InferScope's and the `nvtx` binding's share; under nsys the tool's own recording cost comes on top.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CASES = [
    ("bare loop (pass)", "pass", {}),
    ("empty function call", "f()", {}),
    ("no backend: with scope(name)", "with scope('decode'): pass", {}),
    ("no backend: with scope(name, 3 attrs)", "with scope('decode', request=7, batch=2, tokens=1): pass", {}),
    ("no backend: mark_event(name, attr)", "mark_event('first_token', request=7)", {}),
    ("no backend: call of @scope function", "g()", {}),
    ("nvtx: with scope(name)", "with scope('decode'): pass", {"INFERSCOPE_NVTX": "1"}),
    (
        "nvtx: with scope(name, 3 attrs)",
        "with scope('decode', request=7, batch=2, tokens=1): pass",
        {"INFERSCOPE_NVTX": "1"},
    ),
    ("nvtx: mark_event(name, attr)", "mark_event('first_token', request=7)", {"INFERSCOPE_NVTX": "1"}),
    (
        "file: with scope(name, 3 attrs)",
        "with scope('decode', request=7, batch=2, tokens=1): pass",
        {"INFERSCOPE_ANNOTATIONS": "@tmp"},
    ),
]

CHILD = """
import json, sys, timeit
import inferscope
from inferscope import scope, mark_event
def f(): pass
def plain(name, **attrs): pass
@inferscope.scope("g")
def g(): pass
stmt, number, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# the same call shape to a plain Python function, timed in the same interpreter, interleaved
base = stmt.replace("with scope(", "plain(").replace("): pass", ")").replace("mark_event(", "plain(")
t, b = [], []
for _ in range(repeat):
    t.append(timeit.timeit(stmt, globals=globals(), number=number))
    b.append(timeit.timeit(base, globals=globals(), number=number))
print(json.dumps({"ns": min(t) * 1e9 / number, "base_ns": min(b) * 1e9 / number,
                  "backends": inferscope.annotate.backends()}))
"""


def run(stmt: str, env_extra: dict, number: int, repeat: int, tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFERSCOPE_", "NVTX_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update({k: (tmp if v == "@tmp" else v) for k, v in env_extra.items()})
    out = subprocess.run(
        [sys.executable, "-c", CHILD, stmt, str(number), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; best of {args.repeat} x {args.number:,} calls"
    )
    print(f"{'case':44} {'ns/call':>9} {'plain call':>10}  backends")
    with tempfile.TemporaryDirectory() as tmp:
        for label, stmt, env in CASES:
            r = run(stmt, env, args.number, args.repeat, tmp)
            b = r["backends"]
            base = f"{r['base_ns']:10.0f}" if "scope(" in stmt or "mark_event" in stmt else f"{'':10}"
            print(f"{label:44} {r['ns']:9.0f} {base}  nvtx={b['nvtx']} file={'yes' if b['file'] else None}")


if __name__ == "__main__":
    main()
