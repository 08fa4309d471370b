"""The out-of-process stack reader against real interpreters: the line-table decoder against CPython's own
`co_lines()`, the struct layout self-check in every CPython found on this machine, and reading a live child
process's stack and GIL holder through process_vm_readv."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap
import time
import types

import pytest

from recorders import memread
from recorders.cpython_layout import LAYOUTS
from recorders.pystacks import Layout, StackReader
from recorders.samplefile import Writer, read_records
from tests.conftest import REPO


def _interpreters() -> list[str]:
    """Every CPython 3.11+ on this machine (pyenv, /usr/bin), the running one first (when it is one: 3.10 has no
    location tables and no layout in the generated table; it records with the in-process sampler)."""
    found = [sys.executable] if sys.version_info >= (3, 11) else []
    for pattern in (
        "/root/.pyenv/versions/3.1[1-9]*/bin/python3.1[1-9]",
        "/usr/bin/python3.1[1-9]",
        os.path.expanduser("~/.pyenv/versions/3.1[1-9]*/bin/python3.1[1-9]"),
    ):
        for exe in sorted(glob.glob(pattern)):
            if os.path.realpath(exe) not in {os.path.realpath(f) for f in found}:
                found.append(exe)
    return found


INTERPRETERS = _interpreters()


def _codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


LINETABLE_CHECK = textwrap.dedent("""
    import importlib, json, sys, types
    sys.path.insert(0, sys.argv[1])
    from recorders.pystacks import CodeInfo, StackReader, parse_linetable

    def codes(c):
        yield c
        for k in c.co_consts:
            if isinstance(k, types.CodeType):
                yield from codes(k)

    checked = bad = 0
    for name in ("threading", "json.decoder", "typing", "argparse", "dataclasses", "asyncio.base_events"):
        path = importlib.import_module(name).__file__
        for c in codes(compile(open(path).read(), path, "exec")):
            starts, lines = parse_linetable(c.co_linetable, c.co_firstlineno)
            info = CodeInfo("", "", c.co_firstlineno, starts, lines)
            for start, end, line in c.co_lines():
                if line is not None:
                    for offset in range(start, end, 2):
                        checked += 1
                        bad += StackReader.line(info, offset // 2) != line
    print(json.dumps({"checked": checked, "bad": bad}))
""")


@pytest.mark.parametrize("python", INTERPRETERS)
def test_linetable_decoder_matches_co_lines(python):
    """Oracle: CPython's own co_lines() for every instruction of several stdlib modules."""
    out = subprocess.run([python, "-c", LINETABLE_CHECK, str(REPO)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    print(python, result)
    assert result["checked"] > 50_000
    assert result["bad"] == 0


@pytest.mark.parametrize("python", INTERPRETERS)
def test_layout_self_check_passes_on_each_interpreter(python):
    """The workload-side check (thread list, GIL holder, a parked thread's stack read through memory) must
    accept every interpreter whose layout is in the generated table."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); from recorders.agent import remote_layout; "
        "r, why = remote_layout(); print(json.dumps({'ok': r is not None, 'why': why, "
        "'v': '%d.%d' % sys.version_info[:2]}))"
    )
    out = subprocess.run([python, "-c", code, str(REPO)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    if not any(k.startswith(result["v"] + "/") for k in LAYOUTS):
        assert not result["ok"] and "no verified struct layout" in result["why"]
    else:
        assert result == {"ok": True, "why": "verified", "v": result["v"]}


CHILD = textwrap.dedent("""
    import json, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    from recorders.agent import remote_layout

    def spin_holding_gil():
        while True:
            pass

    def outer_wait(evt):
        inner_wait(evt)

    def inner_wait(evt):
        evt.wait()

    evt = threading.Event()
    waiter = threading.Thread(target=outer_wait, args=(evt,), name="waiter")
    waiter.start()
    info, why = remote_layout()
    print(json.dumps({"info": info, "why": why, "waiter_tid": waiter.native_id,
                      "main_tid": threading.get_native_id()}), flush=True)
    spin_holding_gil()
""")


def test_remote_reader_reads_a_live_child():
    """A child parks one thread in outer_wait -> inner_wait -> Event.wait and spins in the main thread; read from
    outside, the waiter's stack must show those frames and the spinning main thread must hold the GIL most of
    the time (it is the only runnable Python thread)."""
    ok, why = memread.can_read_children()
    if not ok:
        pytest.skip(f"process_vm_readv on child processes is not permitted here: {why}")
    if sys.version_info < (3, 11):
        pytest.skip("the remote reader knows CPython 3.11-3.13 layouts; 3.10 records with the in-process sampler")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(REPO)], stdout=subprocess.PIPE, text=True)
    try:
        hello = json.loads(child.stdout.readline())
        assert hello["why"] == "verified"
        info = hello["info"]
        reader = StackReader(
            memread.reader(child.pid), Layout(LAYOUTS[info["layout"]]), info["interp"], info["code_type"], info["gil"]
        )
        threads = {tid: tstate for tstate, _ident, tid in reader.threads()}
        assert {hello["waiter_tid"], hello["main_tid"]} <= set(threads)
        waiter = [f.function for f in reader.stack(threads[hello["waiter_tid"]])]
        assert waiter[:4] == ["Condition.wait", "Event.wait", "inner_wait", "outer_wait"]
        deadline = time.monotonic() + 10  # the child prints before it calls spin_holding_gil()
        while (main := reader.stack(threads[hello["main_tid"]]))[0].function != "spin_holding_gil":
            assert time.monotonic() < deadline, main
            time.sleep(0.01)
        assert main[-1].function == "<module>"
        holders = [reader.gil_holder() for _ in range(200)]
        assert holders.count(threads[hello["main_tid"]]) > 150
        assert threads[hello["waiter_tid"]] not in holders
    finally:
        child.kill()
        child.wait(10)


def test_remote_read_of_a_dead_process_is_an_oserror():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    with pytest.raises(OSError):
        memread.reader(child.pid)(0x10000, 8)


def test_sample_file_survives_truncation(tmp_path):
    """A process killed mid-run leaves a gzip stream without its end: everything up to the last sync point
    must still be readable."""
    path = tmp_path / "s.jsonl.gz"
    w = Writer(path, {"pid": 1})
    sid = w.stack_id([("f", "a.py", 3), ("<module>", "a.py", 9)])
    for i in range(100):
        w.sample(1000 + i, 2000 + i, 1, 2, sid, "running", True)
    w.flush()
    for i in range(100, 150):
        w.sample(1000 + i, 2000 + i, 1, 2, sid, "idle", False)
    w.flush()
    whole = path.read_bytes()  # no end record, no gzip trailer: the writer is still "running"
    path.write_bytes(whole[:-3])
    records = list(read_records(path))
    assert records[0] == ["H", {"pid": 1}]
    samples = [r for r in records if r[0] == "S"]
    assert 100 <= len(samples) <= 150
    assert samples[0] == ["S", 1000, 2000, 1, 2, sid, "running", 1]
    assert [r for r in records if r[0] == "K"] == [["K", 0, [0, 1]]]


def _sample_spinning_and_waiting_threads(path, spin: bool = True) -> tuple[dict[str, list[str]], float, float]:
    """Two seconds of the in-process sampler at 100 Hz over a thread spinning in Python and one waiting (or, with
    spin=False, the waiting one alone): the states sampled per thread name, the wall time that passed, and the CPU
    share the spinning thread got."""
    import threading
    import time

    from recorders.inproc import InProcessSampler

    stop = threading.Event()

    def spin_():
        x = 0
        while not stop.is_set():
            x += 1

    busy = threading.Thread(target=spin_ if spin else stop.wait, name="busy")
    sleepy = threading.Thread(target=stop.wait, name="sleepy")
    busy.start()
    sleepy.start()
    sampler = InProcessSampler(path, 100, {"pid": os.getpid()})
    busy_clock = time.pthread_getcpuclockid(busy.ident)
    cpu0, wall0 = time.clock_gettime(busy_clock), time.monotonic()
    sampler.start()
    time.sleep(2.0)
    sampler.stop()
    # On a loaded machine neither the spinning thread nor the sampler gets a whole core: the expectations scale
    # with the wall time that really passed and the CPU the spinning thread really got (its own CPU clock).
    elapsed = time.monotonic() - wall0
    busy_share = (time.clock_gettime(busy_clock) - cpu0) / elapsed
    stop.set()
    busy.join()
    sleepy.join()
    threads = {r[2]: r[3] for r in read_records(path) if r[0] == "T"}
    by_name: dict[str, list[str]] = {}
    for r in read_records(path):
        if r[0] == "S" and r[4] in threads:
            by_name.setdefault(threads[r[4]], []).append(r[6])
    return by_name, elapsed, busy_share


def test_inprocess_sampler_keeps_its_rate_against_a_cpu_bound_thread(tmp_path):
    """The fallback sampler must take its samples at about the asked rate while a thread spins in Python (it must
    win the GIL back for each one), and its CPU-clock running/idle must call the spinning thread running and the
    waiting one idle.

    The rate is a claim about the sampler against a spinning thread, not about the machine: where other processes
    hold both cores (CI runs two test workers on two; a shared development machine ran at load 20), threads wait
    for a core whatever the GIL does. Two things bound the ticks then, and the expectation scales with both: the
    rate a control window just before got (same sampler and load, no spinning thread), and the share of a core the
    spinning thread got, since the sampler can only take the GIL from it while it runs (descheduled while holding
    the GIL, it stops every thread of the process). At load 20 it got 21% and the sampler 35 ticks a second; on an
    idle machine it gets nearly all, and the bound is 60% of the asked 100 Hz as before. A window that falls short
    is measured again (with a new control), up to three times."""

    def rates(attempt: int) -> tuple[float, tuple]:
        control, control_elapsed, _ = _sample_spinning_and_waiting_threads(tmp_path / f"ctl{attempt}.gz", spin=False)
        return len(control["sleepy"]) / control_elapsed, _sample_spinning_and_waiting_threads(
            tmp_path / f"inproc{attempt}.jsonl.gz"
        )

    for attempt in range(3):
        control_rate, (by_name, elapsed, busy_share) = rates(attempt)
        expected = 0.6 * min(100, control_rate) * elapsed * min(1.0, busy_share)  # ticks: 100 a second asked
        if len(by_name["busy"]) >= expected:
            break
    assert len(by_name["busy"]) >= expected, (len(by_name["busy"]), elapsed, control_rate, busy_share)
    assert control_rate >= 20, f"the sampler took {control_rate:.0f} samples a second with nothing contending"
    later = by_name["busy"][1:]  # the first sample of a thread comes from /proc
    # A tick is "running" when the thread used at least half the time since the previous one. With a CPU share s
    # over the window, the running fraction r obeys r/2 <= s <= r + (1-r)/2, i.e. 2s-1 <= r <= 2s: near 1 on an
    # idle machine (s ~ 1), anything up to 2s when other processes took the core.
    r = later.count("running") / len(later)
    assert 2 * busy_share - 1 - 0.1 <= r <= 2 * busy_share + 0.1, (r, busy_share)
    assert by_name["sleepy"][1:].count("idle") >= 0.9 * len(by_name["sleepy"][1:])
