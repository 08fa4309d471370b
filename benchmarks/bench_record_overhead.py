"""Wall-time overhead of Python sampling at 100 Hz on a CPU-bound Python workload.

Runs the same fixed amount of pure-Python work (the workload times its own work loop, so interpreter and agent
start-up are reported separately) under:
    plain             python WORKLOAD
    remote            inferscope record --no-nsys --sampler remote     (out-of-process, process_vm_readv)
    inprocess         inferscope record --no-nsys --sampler inprocess  (a thread in the workload)
    py-spy            py-spy record -r 100                              (pauses the target for each sample)
    py-spy nonblock   py-spy record -r 100 --nonblocking
Rounds are interleaved so that drift in machine load hits every configuration alike; medians are reported.
Besides wall time the workload reports its process CPU time (which includes an in-process sampler's thread but
not an out-of-process sampler), because on a shared, loaded machine wall time is dominated by other processes;
the out-of-process sampler's own CPU use is taken from the bundle manifest. The target is <= 2 % wall overhead.

A second, paired measurement is much less sensitive to other load on the machine: one workload process does
~50 ms chunks of the same work for --paired-s seconds while the sampler is switched on and off every half second
(on in even half-seconds of CLOCK_MONOTONIC); chunks wholly inside an "on" or an "off" half-second are compared,
so both sides see the same machine. "none" switches nothing and shows the method's noise floor. py-spy cannot be
switched and appears only in the first table.

    python benchmarks/bench_record_overhead.py [--rounds 7] [--work 6000000] [--threads 1] [--paired-s 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKLOAD = r"""
import json, sys, threading, time

def tokenize(text):
    out = []
    for word in text.split():
        h = 0
        for ch in word:
            h = (h * 31 + ord(ch)) & 0xFFFFFFFF
        out.append(h % 50257)
    return out

def work(n, results, i):
    text = " ".join(f"token{j % 977}" for j in range(1000))
    done = 0
    while done < n:
        done += len(tokenize(text))
    results[i] = done

n, threads = int(sys.argv[1]), int(sys.argv[2])
results = [0] * threads
t0, c0 = time.perf_counter(), time.process_time()
ts = [threading.Thread(target=work, args=(n // threads, results, i)) for i in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"work_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))
"""


PAIRED_WORKLOAD = r"""
import json, os, sys, tempfile, threading, time
sys.path.insert(0, sys.argv[3])
mode, seconds = sys.argv[1], float(sys.argv[2])

def on(t):
    return int(t / 0.5) % 2 == 0

def tokenize(text):
    out = []
    for word in text.split():
        h = 0
        for ch in word:
            h = (h * 31 + ord(ch)) & 0xFFFFFFFF
        out.append(h % 50257)
    return out

if mode == "inprocess":
    from recorders.inproc import InProcessSampler
    sampler = InProcessSampler(os.path.join(tempfile.mkdtemp(), "s.jsonl.gz"), 100, {"pid": os.getpid()})
    sample = sampler._sample
    sampler._sample = lambda me, due: on(time.monotonic()) and sample(me, due)
    sampler.start()
if mode == "remote":
    from recorders.agent import remote_layout
    print(json.dumps({"pid": os.getpid(), "mode": "remote", **remote_layout()[0]}), flush=True)
    sys.stdin.readline()  # the driver is attached
text = " ".join(f"token{j % 977}" for j in range(1000))
chunks = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0, c0 = time.monotonic(), time.process_time()
    for _ in range(30):
        tokenize(text)
    t1 = time.monotonic()
    if on(t0) == on(t1):
        chunks.append((on(t0), t1 - t0, time.process_time() - c0))
print(json.dumps({"chunks": chunks}), flush=True)
"""


def paired(mode: str, seconds: float, tmp: Path) -> dict:
    """Median chunk wall and CPU time with the sampler on versus off, within one workload process."""
    import threading

    sys.path.insert(0, str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", PAIRED_WORKLOAD, mode, str(seconds), str(REPO)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    if mode == "remote":
        from recorders.remote import RemoteSampler, _Target

        reg = json.loads(proc.stdout.readline())
        bundle = tmp / "paired-remote"
        (bundle / "samples").mkdir(parents=True)
        sampler = RemoteSampler(bundle, 100, {"pid": os.getpid()})
        target = _Target(reg, "paired")

        def loop():
            next_t = time.monotonic()
            while not stop.is_set():
                next_t += 0.01
                if int(time.monotonic() / 0.5) % 2 == 0:
                    sampler._sample(target)
                stop.wait(max(0.0, next_t - time.monotonic()))

        threading.Thread(target=loop, daemon=True).start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
    out = json.loads(proc.stdout.readlines()[-1])
    stop.set()
    proc.wait(60)
    result = {}
    for label, flag in (("on", True), ("off", False)):
        sel = [c for c in out["chunks"] if c[0] == flag]
        result[label] = {
            "n": len(sel),
            "wall": statistics.median(c[1] for c in sel),
            "cpu": statistics.median(c[2] for c in sel),
        }
    return result


def run(cmd: list[str], env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]}... failed: {proc.stderr[-2000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"work_s"')][-1]
    return {**json.loads(line), "total_s": total}


def bundle_facts(bundle: Path) -> tuple[int, float | None]:
    """(samples, out-of-process sampler CPU as % of one core over the recording)."""
    sys.path.insert(0, str(REPO))
    from recorders.samplefile import read_records

    n = sum(1 for f in (bundle / "samples").glob("*.jsonl.gz") for r in read_records(f) if r[0] == "S")
    m = json.loads((bundle / "manifest.json").read_text())
    remote = m["sampler"].get("remote")
    cpu = 100 * remote["sampling_cpu_ns"] / 1e9 / m["duration_s"] if remote else None
    return n, cpu


def interleaved(args, configs: dict, env: dict, tmp: Path) -> None:
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    run(configs["plain"](None), env)  # warm the page cache
    for r in range(args.rounds):
        for name, make in configs.items():
            bundle = tmp / f"{name.replace(' ', '_')}-{r}"
            result = run(make(bundle), env)
            if bundle.is_dir():
                result["samples"], result["sampler_cpu_pct"] = bundle_facts(bundle)
            runs[name].append(result)
        print(
            f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]['work_s']:.3f}s" for k, v in runs.items()),
            flush=True,
        )

    def med(name: str, key: str) -> float | None:
        values = [x[key] for x in runs[name] if x.get(key) is not None]
        return statistics.median(values) if values else None

    base_wall, base_cpu = med("plain", "work_s"), med("plain", "cpu_s")
    print(
        f"\nCPU-bound Python workload, {args.threads} thread(s), {args.rate} Hz, {args.rounds} interleaved rounds "
        f"(medians; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'config':<16} {'wall s':>7} {'wall +%':>8} {'spread s':>14} {'cpu s':>7} {'cpu +%':>7} "
        f"{'end-to-end s':>12} {'samples':>8} {'sampler cpu':>11}"
    )
    for name in configs:
        wall, cpu = med(name, "work_s"), med(name, "cpu_s")
        walls = [x["work_s"] for x in runs[name]]
        smp, scpu = med(name, "samples"), med(name, "sampler_cpu_pct")
        print(
            f"{name:<16} {wall:7.3f} {100 * (wall - base_wall) / base_wall:+7.2f}% "
            f"{min(walls):6.3f}..{max(walls):<6.3f} {cpu:7.3f} {100 * (cpu - base_cpu) / base_cpu:+6.2f}% "
            f"{med(name, 'total_s'):12.3f} {'-' if smp is None else f'{smp:.0f}':>8} "
            f"{'-' if scpu is None else f'{scpu:.1f}% core':>11}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--work", type=int, default=6_000_000, help="tokens to hash (about 3 s on one core)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--paired-s", type=float, default=30.0, help="seconds per paired measurement (0 skips it)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="inferscope-bench-"))
    workload = tmp / "workload.py"
    workload.write_text(WORKLOAD)
    py = sys.executable
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    wl = [str(workload), str(args.work), str(args.threads)]
    rate = str(args.rate)
    configs = {
        "plain": lambda b: [py, *wl],
        "remote": lambda b: [
            py,
            "-m",
            "inferscope",
            "record",
            "-o",
            str(b),
            "--no-nsys",
            "--sampler",
            "remote",
            "--sample-rate",
            rate,
            "--",
            py,
            *wl,
        ],
        "inprocess": lambda b: [
            py,
            "-m",
            "inferscope",
            "record",
            "-o",
            str(b),
            "--no-nsys",
            "--sampler",
            "inprocess",
            "--sample-rate",
            rate,
            "--",
            py,
            *wl,
        ],
    }
    pyspy = shutil.which("py-spy")
    if pyspy:
        configs["py-spy"] = lambda b: [pyspy, "record", "-r", rate, "-o", str(b) + ".txt", "-f", "raw", "--", py, *wl]
        configs["py-spy nonblock"] = lambda b: [
            pyspy,
            "record",
            "-r",
            rate,
            "--nonblocking",
            "-o",
            str(b) + ".txt",
            "-f",
            "raw",
            "--",
            py,
            *wl,
        ]
    else:
        print("py-spy not installed (pip install py-spy): its rows are skipped")

    if args.rounds > 0:
        interleaved(args, configs, env, tmp)
    if args.paired_s > 0:
        print(f"\nPaired on/off within one process ({args.paired_s:g} s each, 100 Hz, ~50 ms chunks; medians)")
        print(
            f"{'sampler':<10} {'chunks on/off':>14} {'wall on/off ms':>18} {'wall +%':>8} {'cpu on/off ms':>17} {'cpu +%':>7}"
        )
        for mode in ("none", "remote", "inprocess"):
            r = paired(mode, args.paired_s, tmp)
            on, off = r["on"], r["off"]
            print(
                f"{mode:<10} {on['n']:>6}/{off['n']:<7} {on['wall'] * 1e3:8.2f}/{off['wall'] * 1e3:<9.2f}"
                f" {100 * (on['wall'] - off['wall']) / off['wall']:+7.2f}% {on['cpu'] * 1e3:8.2f}/{off['cpu'] * 1e3:<8.2f}"
                f" {100 * (on['cpu'] - off['cpu']) / off['cpu']:+6.2f}%",
                flush=True,
            )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
