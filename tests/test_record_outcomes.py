"""What a first `inferscope record` gives back, with the real nsys and the real samplers (no GPU here).

- the default nsys options record a CPU-only workload without perf-based collection, and the bundle carries a
  SQLite export that `analyze` reads with no nsys installed;
- a recording whose nsys is lost (killed mid-run, or refusing its arguments) exits 3, says so in one line, and
  leaves a manifest marked incomplete, which `analyze` reports first;
- `analyze` of a bundle without GPU work names the hottest Python function. The oracle is the bundle's raw sample
  files read here with gzip and json (not the product's reader or views): the on-CPU samples of the workload's
  threads, grouped by their innermost frame (the workload calls no Python-level library code, so the innermost
  frame is the code frame the product attributes to).

Every recorder run has a timeout; whatever a run leaves is ended by PID (the recorder's tree and its own session's
nsys agents), never by name.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recorders import nsys as nsys_mod
from recorders.record import TRACE_LOST
from recorders.supervise import kill_tree
from tests.conftest import REPO, needs_nsys, record_until_nsys_cooperates, run_cli

TIMEOUT = 300

# hot_loop spins for about three times as long as warm_up: the flat profile must rank them in that order
HOT_SCRIPT = """\
import sys, time


def spin(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def warm_up():
    end = time.perf_counter() + 0.4
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def hot_loop():
    end = time.perf_counter() + 1.2
    x = 0
    while time.perf_counter() < end:
        x = (x * 31 + 7) % 1000003
    return x


warm_up()
hot_loop()
"""

# waits (up to 60 s) for the test to say go, so the test can act while the workload runs under nsys
WAIT_SCRIPT = """\
import os, sys, time
marker, go = sys.argv[1], sys.argv[2]
open(marker, "w").write("ready")
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def _end_leftovers(bundle: Path) -> None:
    """End this recording's own nsys agents, by PID, if any survived (they would hang later profiles)."""
    try:
        nsys_pid = _manifest(bundle)["nsys"]["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for pid in nsys_mod.session_agents(nsys_pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _record(bundle: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        return run_cli("record", "-o", bundle, *args, env=env, timeout=TIMEOUT)
    finally:
        _end_leftovers(bundle)


def hot_bundle(directory: Path) -> Path:
    """A real --no-nsys recording of HOT_SCRIPT (no GPU work, hot_loop hottest); for rule tests elsewhere."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "hot.py"
    script.write_text(HOT_SCRIPT)
    bundle = directory / "hot_bundle"
    proc = _record(bundle, "--no-nsys", "--", sys.executable, script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return bundle


def lost_bundle(directory: Path) -> Path:
    """A real recording whose nsys refused its arguments (needs nsys): status incomplete; for rule tests elsewhere."""
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "lost_bundle"
    proc = _record(bundle, "--nsys-args", "--cpuctxsw=bogus", "--", sys.executable, "-c", "pass")
    assert proc.returncode == TRACE_LOST, proc.stderr[-3000:]
    return bundle


def _raw_profile(bundle: Path) -> tuple[collections.Counter, collections.Counter, int, collections.Counter]:
    """Independent oracle: (on-CPU samples per innermost function, per (function, line), total on-CPU samples,
    on-CPU samples per (function, file) anywhere on the stack) of the workload's threads, read straight from
    samples/*.jsonl.gz (the recorder's own threads are named inferscope-* and are not the workload's)."""
    by_function: collections.Counter = collections.Counter()
    by_line: collections.Counter = collections.Counter()
    on_stack: collections.Counter = collections.Counter()
    total = 0
    for path in sorted((bundle / "samples").glob("*.jsonl.gz")):
        frames, stacks, names, samples = {}, {}, {}, []
        with gzip.open(path, "rt") as f:
            for line in f:
                rec = json.loads(line)
                if rec[0] == "F":
                    frames[rec[1]] = (rec[2], rec[3], rec[4])
                elif rec[0] == "K":
                    stacks[rec[1]] = [frames[i] for i in rec[2]]
                elif rec[0] == "T":
                    names[(rec[1], rec[2])] = rec[3]
                elif rec[0] == "S":
                    samples.append(rec)
        for _, _, _, pid, tid, sid, state, _ in samples:
            if state != "running" or names.get((pid, tid), "").startswith("inferscope-") or not stacks.get(sid):
                continue
            function, _file, line = stacks[sid][0]
            by_function[function] += 1
            by_line[(function, line)] += 1
            on_stack.update({(fn, file) for fn, file, _ in stacks[sid]})
            total += 1
    return by_function, by_line, total, on_stack


def _analyze_json(bundle: Path, tmp_path: Path, env: dict | None = None) -> dict:
    proc = run_cli("analyze", bundle, "-f", "json", "--no-cache", env=env, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def _finding(doc: dict, rule: str) -> dict | None:
    found = [f for f in doc["findings"] if f["rule_id"] == rule]
    assert len(found) <= 1
    return found[0] if found else None


def _rows(finding: dict) -> list[dict]:
    return [dict(zip(finding["evidence_columns"], r)) if isinstance(r, list) else r for r in finding["evidence"]]


def _check_hot_frames(bundle: Path, doc: dict) -> None:
    """The finding and the headline against the raw samples: same hottest function, same share, same line."""
    by_function, by_line, total, on_stack = _raw_profile(bundle)
    assert total >= 40, f"only {total} on-CPU samples of the workload"
    (top, top_n), (second, _) = by_function.most_common(2)
    assert top == "hot_loop" and second == "warm_up", by_function  # the workload's construction agrees
    f = _finding(doc, "python_hot_frames")
    assert f is not None, [x["rule_id"] for x in doc["findings"]]
    rows = _rows(f)
    assert [r["function"] for r in rows[:2]] == [top, second]
    assert rows[0]["basis_samples"] == total and rows[0]["counted"] == "on-CPU"
    assert rows[0]["self_counted"] == top_n
    assert rows[0]["self_share_pct"] == pytest.approx(100.0 * top_n / total)
    best_lines = {
        ln for (fn, ln), n in by_line.items() if fn == top and n == max(m for (g, _), m in by_line.items() if g == top)
    }
    assert rows[0]["line"] in best_lines
    # the script's <module> called both: on the stack in (nearly) every sample, running in none (the in-process
    # sampler of Python 3.10 takes a thread's first sample from /proc, without its stack; runpy adds a <module>)
    [module] = [r for r in rows if r["function"] == "<module>" and str(r["file"]).endswith("hot.py")]
    expected_total = 100.0 * on_stack[("<module>", module["file"])] / total
    assert module["self_counted"] == 0 and module["total_share_pct"] == pytest.approx(expected_total)
    assert expected_total >= 95
    share = 100.0 * top_n / total
    assert f["severity"] == ("medium" if share >= 50 else "low")
    from inferscope.units import fmt_pct

    expected = (
        f"No GPU work recorded; Python time went {'mostly' if share >= 50 else 'in the largest share'} to "
        f"hot_loop (hot.py:{rows[0]['line']}), {fmt_pct(share)} of {total:,} on-CPU samples."
    )
    assert doc["headline"].endswith(expected), doc["headline"]
    print(f"\n{doc['headline']}\noracle: {dict(by_function)}")


# --- nsys defaults -----------------------------------------------------------------------------------------------


@needs_nsys
def test_default_record_needs_no_perf_and_carries_a_sqlite_export(tmp_path):
    """The defaults alone (no --nsys-args): nsys runs with CPU sampling and context switches off, the report is
    exported to SQLite in the bundle by the recording nsys, and `analyze` reads that export with no nsys to be
    found at all (PATH without it, INFERSCOPE_NSYS pointing nowhere) and names the hot function."""
    script = tmp_path / "hot.py"
    script.write_text(HOT_SCRIPT)

    def once(attempt: int):
        bundle = tmp_path / f"b{attempt}"
        started = time.monotonic()
        proc = _record(bundle, "--", sys.executable, script)
        return bundle, proc, time.monotonic() - started

    bundle, proc, took = record_until_nsys_cooperates(once)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = _manifest(bundle)
    assert m["status"] == "complete" and "incomplete_reason" not in m
    assert "--sample=none" in m["nsys"]["command"] and "--cpuctxsw=none" in m["nsys"]["command"]
    assert not any(a.startswith("--python-sampling") for a in m["nsys"]["command"])
    assert not m["nsys"].get("stalled")
    export = m["nsys"]["export"]
    assert export["file"] == "profile.sqlite" and "error" not in export
    with open(bundle / "profile.sqlite", "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    assert "profile.sqlite" in m["files"] and "profile.nsys-rep" in m["files"]
    assert nsys_mod.session_agents(m["nsys"]["pid"]) == []
    print(f"\ndefault record of 1.6 s of work: {took:.1f} s (export {export['seconds']} s)")

    no_nsys = tmp_path / "no-nsys-bin"
    no_nsys.mkdir()
    env = {"PATH": str(no_nsys), "INFERSCOPE_NSYS": str(no_nsys / "nsys")}
    doc = _analyze_json(bundle, tmp_path, env=env)
    assert "exported as sqlite by the recording nsys" in doc["trace"]["source_format"]
    assert _finding(doc, "bundle_incomplete") is None
    _check_hot_frames(bundle, doc)


@needs_nsys
def test_user_sampling_option_replaces_both_perf_defaults():
    """`--nsys-args "-s cpu"` turns CPU sampling back on; --cpuctxsw then follows nsys's own default for it
    (nsys pairs the two) instead of our none. A user --cpuctxsw alone leaves our --sample=none."""
    import shutil

    caps = nsys_mod.Capabilities.probe(shutil.which("nsys"))
    cmd, _ = nsys_mod.profile_command("nsys", caps, "/tmp/x/profile", ["-s", "cpu"], ["app"])
    assert not any(a.startswith(("--sample=", "--cpuctxsw=")) for a in cmd) and "cpu" in cmd
    cmd, _ = nsys_mod.profile_command("nsys", caps, "/tmp/x/profile", ["--cpuctxsw=process-tree"], ["app"])
    assert "--sample=none" in cmd and "--cpuctxsw=none" not in cmd


# --- lost traces -------------------------------------------------------------------------------------------------


@needs_nsys
def test_nsys_killed_mid_run_is_a_lost_trace(tmp_path):
    """The profiler dies while the workload runs (SIGKILL to the nsys CLI and its agent, as the OOM killer might;
    killing the CLI alone is not enough: nsys 2022.4's agent then still writes the report): the recorder exits 3
    with one error line, the manifest says incomplete and why, and `analyze` puts the incompleteness first (a high
    finding and the headline)."""
    script = tmp_path / "wait.py"
    script.write_text(WAIT_SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")

    def once(n):
        """One recording killed mid-run: (bundle, what nsys's retry judges, proc, killed, stderr). Only a recorder
        that ended before the kill (nsys 2022.4 failing on its own under load) has its stderr judged."""
        bundle, marker, go = tmp_path / f"b{n}", tmp_path / f"marker{n}", tmp_path / f"go{n}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inferscope",
                "record",
                "-o",
                str(bundle),
                "--",
                sys.executable,
                str(script),
                str(marker),
                str(go),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not marker.exists() or "pid" not in (_manifest(bundle).get("nsys") or {}):
                if proc.poll() is not None:
                    err = proc.communicate()[1]
                    return bundle, err, proc, False, err
                assert time.monotonic() < deadline, "the workload never started"
                time.sleep(0.1)
            time.sleep(0.5)
            nsys_pid = _manifest(bundle)["nsys"]["pid"]
            agents = nsys_mod.session_agents(nsys_pid)
            assert agents, "no nsys agent serves this recording"
            # this recording's profiler only, by PID; the CLI first (killed after its agent, it would notice the
            # lost connection and exit 0 first: that case is a lost trace too, with a less specific message)
            for pid in [nsys_pid] + agents:
                os.kill(pid, signal.SIGKILL)
            for pid in agents:  # a killed agent leaves its registration behind, which would stall later profiles
                Path(f"/dev/shm/quadd-agent-instance-{pid}").unlink(missing_ok=True)
            go.write_text("go")
            _, err = proc.communicate(timeout=TIMEOUT)
            return bundle, "", proc, True, err
        finally:
            go.write_text("go")
            if proc.poll() is None:
                kill_tree(proc.pid)
                proc.wait(30)
            _end_leftovers(bundle)

    bundle, _, proc, killed, err = record_until_nsys_cooperates(once)
    assert killed, f"the recorder ended before the profiler was killed: {err[-3000:]}"
    assert proc.returncode == TRACE_LOST == 3, err[-3000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("inferscope: error:")]
    assert len(errors) == 1 and "nsys was killed by SIGKILL" in errors[0] and "incomplete" in errors[0], err
    assert "Traceback" not in err
    m = _manifest(bundle)
    assert m["status"] == "incomplete"
    assert m["incomplete_reason"] == "nsys was killed by SIGKILL before writing its report"
    assert m["nsys"]["report"] is None and "export" not in m["nsys"]

    doc = _analyze_json(bundle, tmp_path)
    f = _finding(doc, "bundle_incomplete")
    assert f is not None and f["severity"] == "high"
    assert "nsys was killed by SIGKILL" in f["summary"]
    assert doc["headline"].startswith("The recording is incomplete: nsys was killed by SIGKILL"), doc["headline"]
    # the workload slept: too few on-CPU samples to profile, so the samples of any state are shown, as info
    hot = _finding(doc, "python_hot_frames")
    assert hot["severity"] == "info" and _rows(hot)[0]["counted"] == "any-state"
    assert _rows(hot)[0]["function"] == "<module>"
    assert (
        "the Python threads were mostly idle (sleeping or waiting), most often in <module> (wait.py:" in doc["headline"]
    )


@needs_nsys
def test_nsys_refusing_its_arguments_is_a_lost_trace(tmp_path):
    """nsys rejects an option value given through --nsys-args and runs nothing: exit 3, nsys's own message, then
    one line of ours; the manifest is incomplete with nsys's exit code."""
    bundle = tmp_path / "lost_bundle"
    proc = _record(bundle, "--nsys-args", "--cpuctxsw=bogus", "--", sys.executable, "-c", "pass")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert lost_bundle(tmp_path / "again").is_dir()
    assert "bogus" in proc.stderr  # nsys said what it refused
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("inferscope: error:")]
    assert len(errors) == 1 and "exited with code" in errors[0]
    m = _manifest(bundle)
    assert m["status"] == "incomplete" and m["incomplete_reason"].startswith("nsys exited with code ")
    # analyze says so on stderr too, where a script that only keeps the report file still sees it
    shown = run_cli("analyze", bundle, "-o", tmp_path / "r.json", "--no-cache", timeout=TIMEOUT)
    assert shown.returncode == 0, shown.stderr[-3000:]
    warnings = [ln for ln in shown.stderr.splitlines() if ln.startswith("inferscope: warning:")]
    assert any("incomplete" in w and m["incomplete_reason"] in w for w in warnings), shown.stderr


def test_complete_bundles_raise_no_incompleteness(tmp_path):
    """bundle_incomplete must stay silent on a complete bundle: a --no-nsys recording."""
    bundle = tmp_path / "b"
    proc = _record(bundle, "--no-nsys", "--", sys.executable, "-c", "pass")
    assert proc.returncode == 0, proc.stderr
    doc = _analyze_json(bundle, tmp_path)
    assert _finding(doc, "bundle_incomplete") is None
    quiet = run_cli("analyze", bundle, "-f", "json", "--no-cache", timeout=TIMEOUT)
    assert "inferscope: warning:" not in quiet.stderr
    assert _finding(doc, "python_hot_frames") is None  # `pass` leaves too few samples to profile
    assert doc["headline"].startswith("This trace has no GPU work")


# --- hottest Python frames ---------------------------------------------------------------------------------------


def test_no_nsys_bundle_names_the_hottest_function(tmp_path):
    """A --no-nsys bundle of a CPU-bound script: the finding and the headline name hot_loop with the share the raw
    samples give."""
    bundle = hot_bundle(tmp_path)
    _check_hot_frames(bundle, _analyze_json(bundle, tmp_path))
    _check_header_reasons(bundle, tmp_path, "not recorded: the bundle holds Python samples only (no nsys report)")


KINETO_REASONS = ("PyTorch profiler", "deviceProperties", "cuda_runtime_version")


def _check_header_reasons(bundle: Path, tmp_path: Path, reason: str) -> None:
    """The report header says why GPU facts are missing in the bundle's own terms: a bundle is not a PyTorch
    profiler trace, whose reasons it used to be given."""
    report = tmp_path / "report.md"
    proc = run_cli("analyze", bundle, "-o", report, "--no-cache", timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = report.read_text(encoding="utf-8").partition("| metric")[0]  # the facts line, above the metrics
    assert reason in header, header
    assert not [r for r in KINETO_REASONS if r in header], header


@needs_nsys
def test_osrt_bundle_names_the_hottest_function(tmp_path):
    """The same with nsys tracing the OS runtime (`-t osrt`): nsys data present, still no GPU work."""
    script = tmp_path / "hot.py"
    script.write_text(HOT_SCRIPT)
    bundle, proc = record_until_nsys_cooperates(
        lambda attempt: (
            b := tmp_path / f"b{attempt}",
            _record(b, "--nsys-args", "-t osrt", "--", sys.executable, script),
        )
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = _analyze_json(bundle, tmp_path)
    assert doc["trace"]["source_format"].startswith("inferscope-bundle + nsys-rep")
    _check_hot_frames(bundle, doc)
    # `-t osrt` records no GPU: the device facts are missing for nsys's reasons (its export's tables)
    _check_header_reasons(bundle, tmp_path, "not in this export")
