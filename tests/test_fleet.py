"""Fleet analysis (issue 23) on the shared 8-rank DDP job, against expectations computed here from the raw JSON
with plain Python: which rank arrives last at each collective, how long every other rank then waits, and so which
rank the job waits on. The runs use real Dask: a LocalCluster through the CLI, and a `dask scheduler` and `dask
worker` started as separate processes and reached with --scheduler.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, TRACES, run_cli

FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"
RANK_FILES = sorted(FLEET.glob("*.json.gz")) if FLEET.is_dir() else []
needs_fleet = pytest.mark.skipif(len(RANK_FILES) < 2, reason=f"shared fleet traces not found at {FLEET}")
pytestmark = needs_fleet


# ------------------------------------------------------------------------------------ independent expectations


def _raw(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def _expected() -> dict:
    """Arrival order and waits from the raw events: a rank's n-th NCCL kernel (by start) is its part in the n-th
    collective; it arrives when that kernel starts (µs in the file) and waits until the last rank arrives."""
    starts, ends = {}, {}
    for path in RANK_FILES:
        doc = _raw(path)
        rank = doc["distributedInfo"]["rank"]
        nccl = sorted(
            (e for e in doc["traceEvents"] if e.get("cat") == "kernel" and "nccl" in e["name"].lower()),
            key=lambda e: e["ts"],
        )
        starts[rank] = [e["ts"] for e in nccl]
        ends[rank] = [e["ts"] + e["dur"] for e in nccl]
    ranks = sorted(starts)
    count = min(len(v) for v in starts.values())
    waited = {r: 0.0 for r in ranks}
    caused = {r: 0.0 for r in ranks}
    collectives = []
    for i in range(count):
        arrivals = {r: starts[r][i] for r in ranks}
        last_rank = max(ranks, key=lambda r: (arrivals[r], r))
        last = arrivals[last_rank]
        waits = {r: last - arrivals[r] for r in ranks}
        for r in ranks:
            waited[r] += waits[r]
        caused[last_rank] += sum(waits.values())
        end_spread = max(ends[r][i] for r in ranks) - min(ends[r][i] for r in ranks)
        collectives.append(
            {"last_rank": last_rank, "skew": last - min(arrivals.values()), "waits": waits, "end_spread": end_spread}
        )
    straggler = max(ranks, key=lambda r: caused[r])
    return {
        "ranks": ranks,
        "collectives": collectives,
        "waited": waited,
        "caused": caused,
        "straggler": straggler,
    }


@pytest.fixture(scope="module")
def expected() -> dict:
    return _expected()


def _close(ns: float, us: float) -> bool:
    """Within 1 % (the issue's bar) of the raw µs figure, and exact for a zero."""
    return abs(ns / 1e3 - us) <= 0.01 * abs(us) if us else ns == 0


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def _per_rank() -> dict[int, dict]:
    """Each rank's figures from its raw events (µs): the window is its ProfilerStep range; GPU busy, compute and
    communication are interval unions, inside the window, of all GPU operations (kernels, copies, memsets), of all
    but the NCCL kernels, and of the NCCL kernels alone."""
    out = {}
    for path in RANK_FILES:
        doc = _raw(path)
        (step,) = [e for e in doc["traceEvents"] if e.get("name", "").startswith("ProfilerStep#")]
        lo, hi = step["ts"], step["ts"] + step["dur"]
        ops = [
            (max(e["ts"], lo), min(e["ts"] + e["dur"], hi), e.get("cat") == "kernel" and "nccl" in e["name"].lower())
            for e in doc["traceEvents"]
            if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset") and e["ts"] < hi and e["ts"] + e["dur"] > lo
        ]
        busy = _union([(a, b) for a, b, _ in ops])
        compute = _union([(a, b) for a, b, comm in ops if not comm])
        out[doc["distributedInfo"]["rank"]] = {
            "step_start": lo,
            "step_ns": step["dur"],
            "gpu_busy_ns": busy,
            "compute_ns": compute,
            "comm_ns": _union([(a, b) for a, b, comm in ops if comm]),
            "comm_exposed_ns": busy - compute,
        }
    return out


# ----------------------------------------------------------------------------- a LocalCluster, through the CLI


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The 8 ranks plus one unreadable rank file, as a directory given with --fleet, on a 2-worker LocalCluster."""
    folder = tmp_path_factory.mktemp("ranks")
    for f in RANK_FILES:
        (folder / f.name).symlink_to(f)
    (folder / "worker8_step_12.broken.pt.trace.json.gz").write_bytes(gzip.compress(b'{"traceEvents": [{"ph": '))
    cache = tmp_path_factory.mktemp("fleet-cache")
    proc = run_cli("analyze", folder, "--fleet", "-f", "json", "--workers", "2", "--cache-dir", cache)
    proc.folder, proc.cache = folder, cache  # for the runs that render the same fleet again from the cache
    return proc


@pytest.mark.heavy
def test_local_cluster_names_the_straggler_and_its_wait(local_run, expected):
    assert local_run.returncode == 0, local_run.stderr
    result = json.loads(local_run.stdout)
    straggler = result["straggler"]
    assert straggler["rank"] == expected["straggler"]
    assert _close(straggler["caused_wait_ns"], expected["caused"][expected["straggler"]])
    assert result["verdict"].startswith(f"rank {expected['straggler']} is the straggler")


@pytest.mark.heavy
def test_local_cluster_arrival_order_and_waits_match_the_raw_events(local_run, expected):
    result = json.loads(local_run.stdout)
    assert [c["last_rank"] for c in result["collectives"]] == [c["last_rank"] for c in expected["collectives"]]
    for got, want in zip(result["collectives"], expected["collectives"]):
        assert _close(got["skew_ns"], want["skew"])
        assert _close(got["wait_caused_ns"], sum(want["waits"].values()))
    cells = {(a["rank"], a["seq"]): a["wait_ns"] for a in result["arrivals"]}
    for seq, want in enumerate(expected["collectives"]):
        for rank, wait in want["waits"].items():
            assert _close(cells[(rank, seq)], wait), (rank, seq)
    for row in result["ranks"]:
        assert _close(row["waited_ns"], expected["waited"][row["rank"]])
        assert _close(row["caused_wait_ns"], expected["caused"][row["rank"]])


@pytest.mark.heavy
def test_per_rank_step_gpu_busy_compute_and_communication_match_the_raw_events(local_run):
    """The per-rank table against interval unions of the raw events; on this job the NCCL time differs several-fold
    between ranks while compute is about equal."""
    want = _per_rank()
    rows = {r["rank"]: r for r in json.loads(local_run.stdout)["ranks"]}
    assert sorted(rows) == sorted(want)
    for rank, w in want.items():
        for key in ("step_ns", "gpu_busy_ns", "compute_ns", "comm_ns", "comm_exposed_ns"):
            assert _close(rows[rank][key], w[key]), (rank, key, rows[rank][key], w[key])
    comm = [w["comm_ns"] for w in want.values()]
    compute = [w["compute_ns"] for w in want.values()]
    assert max(comm) / min(comm) > 3 and max(compute) / min(compute) < 1.5


@pytest.mark.heavy
def test_transfer_and_the_straggler_s_late_start_match_the_raw_events(local_run, expected):
    """Transfer: the median rank's end minus the last arrival. The straggler's worst collective: where its lateness
    cost the others most; on this job the first, where what came before it is the step's start, so its 'late start'
    is its ProfilerStep start minus the median of the other ranks' starts."""
    result = json.loads(local_run.stdout)
    starts, ends = {}, {}
    for path in RANK_FILES:
        doc = _raw(path)
        nccl = sorted(
            (e for e in doc["traceEvents"] if e.get("cat") == "kernel" and "nccl" in e["name"].lower()),
            key=lambda e: e["ts"],
        )
        starts[doc["distributedInfo"]["rank"]] = [e["ts"] for e in nccl]
        ends[doc["distributedInfo"]["rank"]] = [e["ts"] + e["dur"] for e in nccl]
    for got in result["collectives"]:
        seq = got["seq"]
        last_arrival = max(starts[r][seq] for r in starts)
        transfer = statistics.median(ends[r][seq] for r in ends) - last_arrival
        assert abs(got["transfer_ns"] / 1e3 - transfer) <= max(0.5, 0.01 * transfer), (seq, got, transfer)
    straggler = result["straggler"]["rank"]
    worst = max(
        (i for i, c in enumerate(expected["collectives"]) if c["last_rank"] == straggler),
        key=lambda i: sum(expected["collectives"][i]["waits"].values()),
    )
    assert result["straggler"]["worst_seq"] == worst == 0
    steps = _per_rank()
    late = steps[straggler]["step_start"] - statistics.median(
        v["step_start"] for r, v in steps.items() if r != straggler
    )
    (cause,) = [
        c for c in result["causes"] if c["seq"] == result["straggler"]["worst_seq"] and c["cause"] == "late start"
    ]
    assert _close(cause["excess_ns"], late)
    assert f"it started its step {late / 1e3:.2f} ms after the median rank" in result["verdict"]


@pytest.mark.heavy
def test_outliers_are_the_ranks_beyond_the_robust_bar(local_run, expected):
    """Median and MAD of each per-rank figure from the raw events, the bar a two-sided 5 % family-wise normal
    quantile for 8 ranks: the flagged (rank, metric) pairs are the result's."""
    per_rank = _per_rank()
    for rank, w in per_rank.items():
        w["waited_ns"] = expected["waited"][rank]
        w["caused_wait_ns"] = expected["caused"][rank]
    bar = statistics.NormalDist().inv_cdf(1 - 0.05 / (2 * len(per_rank)))
    flagged = set()
    for metric in ("step_ns", "gpu_busy_ns", "compute_ns", "comm_ns", "comm_exposed_ns", "waited_ns", "caused_wait_ns"):
        values = {r: w[metric] for r, w in per_rank.items()}
        med = statistics.median(values.values())
        mad = statistics.median(abs(v - med) for v in values.values())
        meanad = statistics.fmean(abs(v - med) for v in values.values())
        scale = 1.4826 * mad if mad > 0 else 1.2533 * meanad
        flagged |= {(r, metric) for r, v in values.items() if scale > 0 and abs(v - med) / scale > bar}
    result = json.loads(local_run.stdout)
    assert {(o["rank"], o["metric"]) for o in result["outliers"]} == flagged
    assert abs(result["params"]["z_crit"] - bar) < 1e-9


@pytest.mark.heavy
def test_json_follows_the_fleet_schema(local_run):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "inferscope" / "schemas" / "fleet-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(local_run.stdout), schema)


@pytest.mark.heavy
def test_local_cluster_reports_each_rank_and_the_bad_file(local_run, expected):
    err = local_run.stderr
    for rank in expected["ranks"]:
        assert f"inferscope: rank {rank} (" in err and "from distributedInfo" in err
    assert "worker8_step_12.broken" in err and "the other ranks are analysed without it" in err
    result = json.loads(local_run.stdout)
    assert [f["path"].endswith("worker8_step_12.broken.pt.trace.json.gz") for f in result["failures"]] == [True]
    assert sorted(t["rank"] for t in result["traces"]) == expected["ranks"]
    assert result["world_size"] == len(expected["ranks"])


@pytest.mark.heavy
def test_local_cluster_clock_check_is_within_the_collective_end_spread(local_run, expected):
    """Kineto ranks here share one host clock: after each rank's anchor, matching collectives leave offsets no
    larger than how far apart a collective's ends are in the raw files."""
    result = json.loads(local_run.stdout)
    spread_us = max(c["end_spread"] for c in expected["collectives"])
    assert len(result["clock"]) == len(expected["ranks"])
    for row in result["clock"]:
        assert row["anchor_source"] == "session_start_utc_ns"
        assert abs(row["offset_ns"]) <= spread_us * 1e3 and row["residual_ns"] <= spread_us * 1e3


@pytest.mark.heavy
def test_mixed_set_is_refused_in_one_line(tmp_path):
    """A rank of an 8-rank job beside a rank that says it belongs to a 16-rank job."""
    doc = _raw(RANK_FILES[1])
    doc["distributedInfo"]["world_size"] = 16
    (tmp_path / "other_rank1.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
    proc = run_cli(
        "analyze", RANK_FILES[0], tmp_path / "other_rank1.json.gz", "--workers", "1", "--cache-dir", tmp_path / "c"
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert lines == [
        "inferscope: error: these traces are from different jobs (world sizes 8, 16); give the ranks of one job"
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    # refused from the ranks' distributedInfo before any rank was converted
    assert "inferscope: rank" not in proc.stderr
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").glob("*/manifest.json"))


# ------------------------------------------------------------------- a scheduler and a worker as processes


def _start(args: list[str], log: Path, prefix: list[str] | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "dask", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def scheduler(tmp_path):
    """A `dask scheduler` process on a free local port: (its address, a function starting a `dask worker` process
    for it, optionally under a command prefix)."""
    pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            ["scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard"],
            tmp_path / "scheduler.log",
        )
    ]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scheduler_file.exists(), (tmp_path / "scheduler.log").read_text()
    address = json.loads(scheduler_file.read_text())["address"]

    def worker(prefix: list[str] | None = None) -> subprocess.Popen:
        proc = _start(
            ["worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            tmp_path / f"worker{len(procs)}.log",
            prefix,
        )
        procs.append(proc)
        return proc

    try:
        yield address, worker
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.mark.heavy
def test_scheduler_and_worker_processes_run_the_fleet(tmp_path, scheduler, expected):
    address, start_worker = scheduler
    worker = start_worker()
    proc = run_cli(
        "analyze", *RANK_FILES, "--scheduler", address, "--cache-dir", tmp_path / "shared-cache", "-f", "json"
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["straggler"]["rank"] == expected["straggler"]
    assert _close(result["straggler"]["caused_wait_ns"], expected["caused"][expected["straggler"]])
    # the `dask worker` process (its worker is a child of the nanny started here) did every rank's work, and
    # wrote the per-rank tables into the shared cache
    import psutil

    for trace in result["traces"]:
        assert worker.pid in [p.pid for p in psutil.Process(trace["worker_pid"]).parents()], trace
    assert len(list((tmp_path / "shared-cache").glob("*/fleet-*/rank_summary.parquet"))) == len(RANK_FILES)


def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.heavy
@pytest.mark.skipif(not _can_unshare(), reason="needs unshare -m (a mount namespace) to give a worker its own disk")
def test_a_cache_the_workers_do_not_share_is_refused_before_any_rank_runs(tmp_path, scheduler):
    """The worker runs in its own mount namespace with a private tmpfs over the cache directory: the same path,
    other storage, as a worker's local disk would be."""
    address, start_worker = scheduler
    cache = tmp_path / "not-shared"
    cache.mkdir()
    start_worker(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", f'mount -t tmpfs tmpfs "{cache}" && exec "$@"', "sh"]
    )
    proc = run_cli("analyze", *RANK_FILES[:2], "--scheduler", address, "--cache-dir", cache)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"inferscope: error: the cache directory {cache} is not shared with the Dask workers")
    assert "inferscope: rank" not in proc.stderr and not list(cache.iterdir())


@pytest.mark.heavy
def test_unreachable_scheduler_is_one_line(tmp_path):
    proc = run_cli("analyze", *RANK_FILES[:2], "--scheduler", "tcp://127.0.0.1:9", "--cache-dir", tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("inferscope: error: cannot reach the Dask scheduler")


@pytest.mark.heavy
def test_markdown_and_terminal_carry_the_same_verdict(local_run, expected):
    """The three outputs render one FleetResult: rebuilt from the JSON, Markdown and terminal say the same."""
    from dataclasses import fields

    from inferscope.fleet.result import FleetResult
    from inferscope.render import fleet as render_fleet

    data = json.loads(local_run.stdout)
    result = FleetResult(**{f.name: data[f.name] for f in fields(FleetResult)})
    assert render_fleet.to_json(result) == local_run.stdout
    md, text = render_fleet.to_markdown(result), render_fleet.to_terminal(result)
    for doc in (md, text):
        assert data["verdict"] in doc
    heat = md.split("## Wait per rank and collective (ms)")[1].split("##")[0]
    assert len([line for line in heat.splitlines() if line.startswith("| ") and line[2].isdigit()]) == len(
        expected["ranks"]
    )


def _result(local_run):
    from dataclasses import fields

    from inferscope.fleet.result import FleetResult

    data = json.loads(local_run.stdout)
    return FleetResult(**{f.name: data[f.name] for f in fields(FleetResult)})


@pytest.mark.heavy
def test_html_heat_map_holds_every_rank_s_wait_from_the_raw_events(local_run, expected):
    """Rank x collective: each cell the rank's wait in ms, and the last arriver's cell outlined, against the raw
    JSON's arrivals."""
    import re

    from inferscope.render.fleet_html import to_html

    page = to_html(_result(local_run))
    heat = page.split('<table class="heat">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><th>(\d+)</th>(.*?)</tr>", heat)
    assert [int(r) for r, _ in rows] == expected["ranks"]
    for rank_text, cells_html in rows:
        rank = int(rank_text)
        cells = re.findall(r'<td style="([^"]*)">([^<]*)</td>', cells_html)
        assert len(cells) == len(expected["collectives"])
        for (style, value), want in zip(cells, expected["collectives"]):
            wait_ms = want["waits"][rank] / 1e3
            assert abs(float(value) - wait_ms) <= 0.005 + 0.01 * wait_ms, (rank, value, wait_ms)
            assert ("outline" in style) == (want["last_rank"] == rank)


@pytest.mark.heavy
def test_html_report_through_the_cli(local_run, tmp_path):
    """-o fleet.html writes one inert page (the single-trace report's Content-Security-Policy) with the same
    verdict, per-rank table and straggler row as the JSON."""
    from markupsafe import escape

    out = tmp_path / "fleet.html"
    proc = run_cli("analyze", local_run.folder, "--fleet", "-o", out, "--workers", "1", "--cache-dir", local_run.cache)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    data = json.loads(local_run.stdout)
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page and "<script" not in page
    assert str(escape(data["verdict"])) in page
    assert f'<tr class="straggler"><td>{data["straggler"]["rank"]} *</td>' in page
    assert page.count('<tr class="straggler">') == 1
    assert "worker8_step_12.broken" in page  # the unreadable rank is listed


@pytest.mark.heavy
def test_html_escapes_what_the_traces_wrote(local_run):
    """A rank path is whatever the user's files are called (here an edited failure entry)."""
    from inferscope.render.fleet_html import to_html

    result = _result(local_run)
    result.failures = [{"path": "<script>alert(1)</script>.json", "error": "<b>bad</b>"}]
    page = to_html(result)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;.json" in page
    assert "<b>bad</b>" not in page


@pytest.mark.heavy
def test_single_rank_is_analysed_as_before():
    """One rank file is the single-trace analysis, byte for byte its golden output (tests/golden_outputs.py)."""
    from tests import golden_outputs

    name = "fleet/dlrm_v100x8_ddp/worker0_step_12.1694128201545.pt.trace.json.gz"
    code, text = golden_outputs.run(TRACES, ["analyze", name, "-f", "json"])
    assert code in (0, 1)
    assert text == (golden_outputs.HERE / golden_outputs.golden_name(name)).read_text(encoding="utf-8")


@pytest.mark.heavy
def test_ranks_with_an_extra_collective_are_warned(tmp_path, local_run):
    """Collectives are matched by order: a rank with one more NCCL kernel (here a copy of rank 2 with its last
    NCCL kernel repeated after it, named as derived) makes the matching doubtful, and the result says so."""
    assert json.loads(local_run.stdout)["warnings"] == []
    doc = _raw(RANK_FILES[2])
    last = max(
        (e for e in doc["traceEvents"] if e.get("cat") == "kernel" and "nccl" in e["name"].lower()),
        key=lambda e: e["ts"],
    )
    doc["traceEvents"].append({**last, "ts": last["ts"] + last["dur"] + 10})
    derived = tmp_path / "derived_extra_nccl_rank2.json.gz"
    derived.write_bytes(gzip.compress(json.dumps(doc).encode()))
    proc = run_cli(
        "analyze", RANK_FILES[0], RANK_FILES[1], derived, "--workers", "1", "--cache-dir", tmp_path / "c", "-f", "json"
    )
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["warnings"]
    assert len(warnings) == 1 and "most have 8; rank 2 9" in warnings[0], warnings
