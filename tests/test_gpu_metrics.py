"""GPU hardware metrics (issue 24) on the real H200 export with GPU_METRICS (../shared/traces/PROVENANCE.md): what the
model holds, the time-weighted views, and the rules' figures. Every expectation is computed here from the raw
export with sqlite3 and plain Python (samples hold from their timestamp to the next one), never through InferScope,
and checked against the per-phase truth PROVENANCE.md states. Traces without metrics must come out unchanged."""

from __future__ import annotations

import re
import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from inferscope import ingest
from inferscope.ingest.gpu_metric_names import stable_id
from tests import gpu_metric_edits
from tests.raw_metric_series import RawSeries
from tests.conftest import KINETO_TRACES, NSYS_TRACES, needs_shared

pytestmark = needs_shared

METRIC_RULES = ("busy_not_working", "tensor_cores_idle", "dram_bound_phases", "pcie_saturated", "clock_drop")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """The export decompressed, for sqlite3."""
    out = tmp_path_factory.mktemp("gm") / "h200_gpu_metrics.sqlite"
    with gzip.open(gpu_metric_edits.H200_METRICS, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


Series = RawSeries


def read_series(path: Path) -> dict[str, Series]:
    con = sqlite3.connect(path)
    names = dict(con.execute("SELECT metricId, metricName FROM TARGET_INFO_GPU_METRICS"))
    points: dict[str, list[tuple[int, float]]] = {}
    for metric, ts, value in con.execute(
        "SELECT metricId, timestamp, value FROM GPU_METRICS ORDER BY metricId, timestamp"
    ):
        points.setdefault(names[metric], []).append((ts, value))
    con.close()
    return {name: Series(p) for name, p in points.items()}


@pytest.fixture(scope="module")
def series(raw) -> dict[str, Series]:
    return read_series(raw)


@pytest.fixture(scope="module")
def phases(raw) -> dict[str, tuple[int, int]]:
    con = sqlite3.connect(raw)
    rows = con.execute("SELECT text, start, \"end\" FROM NVTX_EVENTS WHERE text LIKE 'phase_%'").fetchall()
    con.close()
    return {name: (s, e) for name, s, e in rows}


@pytest.fixture(scope="module")
def trace(raw, open_trace):
    return open_trace(gpu_metric_edits.H200_METRICS)


SMS = "SMs Active [Throughput %]"
TENSOR = "Tensor Active [Throughput %]"
PCIE_RX = "PCIe RX Throughput [Throughput %]"
DRAM_READ = "DRAM Read Bandwidth [Throughput %]"
DRAM_WRITE = "DRAM Write Bandwidth [Throughput %]"
SM_ISSUE = "SM Issue [Throughput %]"
CLOCK = "GPC Clock Frequency [MHz]"


# --- the model ---------------------------------------------------------------------------------------------------


def test_metric_info_lists_every_sampled_metric_with_its_recorded_name(raw, trace):
    con = sqlite3.connect(raw)
    counts = dict(
        con.execute(
            "SELECT m.metricName, count(*) FROM GPU_METRICS g JOIN TARGET_INFO_GPU_METRICS m "
            "USING (typeId, metricId) GROUP BY 1"
        )
    )
    con.close()
    info = trace.sql("SELECT * FROM gpu_metric_info").to_dict("records")
    assert {r["source_name"]: r["samples"] for r in info} == counts
    assert {r["device_id"] for r in info} == {0}  # the export's one GPU (TARGET_INFO_GPU id 0)
    for r in info:
        assert (r["metric_id"], r["unit"]) == stable_id(r["source_name"])
        assert r["period_ns"] == pytest.approx(100_000, abs=2)  # --gpu-metrics-frequency=10000


def test_samples_are_the_raw_series_piecewise_constant_on_the_trace_clock(series, trace):
    by_id = {stable_id(name)[0]: s for name, s in series.items()}
    rows = trace.sql("SELECT metric_id, ts_ns, end_ns, value FROM gpu_metrics ORDER BY metric_id, ts_ns")
    for metric_id, group in rows.groupby("metric_id"):
        s = by_id[metric_id]
        assert group["ts_ns"].tolist() == s.ts
        ends = group["end_ns"].tolist()
        assert ends[:-1] == s.ends[:-1]  # each sample holds until the next one
        assert ends[-1] == pytest.approx(s.ends[-1], abs=2)  # the last one for one (median) period
        scale = 1e6 if metric_id == "gpc_clock_mhz" else 1  # recorded in Hz under a [MHz] label
        assert group["value"].tolist() == pytest.approx([v / scale for v in s.values])


def test_clock_recorded_in_hz_is_read_in_mhz(series, trace):
    top = max(series[CLOCK].values)
    assert top > 1e9  # the export really stores Hz
    got = trace.sql("SELECT max(value) AS v FROM gpu_metrics WHERE metric_id = 'gpc_clock_mhz'")["v"][0]
    assert got == pytest.approx(top / 1e6)


def test_arrow_and_parquetdir_exports_give_the_same_tables(raw, tmp_path):
    from benchmarks.tile_nsys import to_arrow_streams
    from tests.test_cache_and_formats import _sqlite_to_parquetdir

    want = ingest.load(raw)
    to_arrow_streams(raw, tmp_path / "export.arrows")
    _sqlite_to_parquetdir(raw, tmp_path / "export_pq")
    con = sqlite3.connect(raw)
    assert want["gpu_metrics"].num_rows == con.execute("SELECT count(*) FROM GPU_METRICS").fetchone()[0]
    con.close()
    for path in (tmp_path / "export.arrows", tmp_path / "export_pq"):
        got = ingest.load(path)
        for name in ("gpu_metrics", "gpu_metric_info"):
            assert got[name].equals(want[name]), (path.name, name)


@pytest.mark.parametrize(
    "path",
    [
        NSYS_TRACES / "h100_2gpu_fastvideo.sqlite",
        NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite",
        KINETO_TRACES / "v100_rank1_train.json.gz",
        gpu_metric_edits.TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz",
    ],
    ids=lambda p: p.name.split(".")[0],
)
def test_a_trace_without_metrics_has_empty_tables_views_and_no_metric_findings(path, open_trace):
    t = open_trace(path)
    for name in (
        "gpu_metrics",
        "gpu_metric_info",
        "gpu_metrics_by_kernel",
        "gpu_metrics_by_range",
        "gpu_metrics_by_phase",
        "gpu_metrics_by_gap",
        "gpu_metrics_by_step",
        "gpu_metrics_by_request",
        "busy_ledger",
    ):
        assert t.sql(f"SELECT count(*) AS n FROM {name}")["n"][0] == 0, name
    a = t.analyze()
    assert a.rule_errors == []
    assert [f.rule_id for f in a.findings if f.rule_id in METRIC_RULES] == []
    assert {r.id for r in a.rules} >= set(METRIC_RULES)


# --- the views ---------------------------------------------------------------------------------------------------


def test_per_phase_means_match_the_raw_export_and_the_provenance_truth(series, phases, trace):
    rows = trace.sql("SELECT phase, metric_id, mean_value FROM gpu_metrics_by_phase WHERE device_id = 0")
    got = {(r["phase"], r["metric_id"]): r["mean_value"] for r in rows.to_dict("records")}
    assert {p for p, _ in got} == set(phases)
    for phase, (a, b) in phases.items():
        for name, s in series.items():
            metric_id = stable_id(name)[0]
            scale = 1e6 if metric_id == "gpc_clock_mhz" else 1
            assert got[(phase, metric_id)] == pytest.approx(s.mean(a, b) / scale, rel=1e-9), (phase, name)
    # PROVENANCE.md: GEMM phases SMs Active 96.5 %, Tensor Active 93.7 % (phase_0 68.5 / 66.5 with cuBLAS
    # start-up); copy phases SMs Active 0 %, PCIe RX 91-92 %
    for phase in ("phase_2", "phase_4"):
        assert got[(phase, "tensor_active_pct")] == pytest.approx(93.7, abs=0.1)
        assert got[(phase, "sm_active_pct")] == pytest.approx(96.5, abs=0.2)
    assert got[("phase_0", "tensor_active_pct")] == pytest.approx(66.5, abs=0.1)
    assert got[("phase_0", "sm_active_pct")] == pytest.approx(68.5, abs=0.1)
    for phase in ("phase_1", "phase_3", "phase_5"):
        assert 91 <= got[(phase, "pcie_rx_bw_pct")] <= 92.5
        assert got[(phase, "sm_active_pct")] < 0.05
        assert got[(phase, "tensor_active_pct")] < 0.05


def test_kernel_rows_are_time_weighted_over_each_execution(raw, series, trace):
    con = sqlite3.connect(raw)
    kernels = con.execute('SELECT start, "end" FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY start').fetchall()
    con.close()
    rows = trace.sql(
        "SELECT start_ns, end_ns, mean_value, below_period, samples FROM gpu_metrics_by_kernel "
        "WHERE metric_id = 'tensor_active_pct' ORDER BY start_ns"
    ).to_dict("records")
    assert [(r["start_ns"], r["end_ns"]) for r in rows] == kernels
    s = series[TENSOR]
    for r in rows[:: len(rows) // 25]:  # a spread of executions, the cuBLAS warm-up ones included
        a, b = r["start_ns"], r["end_ns"]
        assert r["mean_value"] == pytest.approx(s.mean(a, b), rel=1e-9)
        touched = sum(1 for t, e in zip(s.ts, s.ends) if t < b and e > a)
        assert r["samples"] == touched and r["below_period"] == (b - a < s.period)


def test_a_window_shorter_than_the_sampling_period_takes_the_enclosing_sample(series, trace):
    s = series[TENSOR]
    i = max(range(len(s.values)), key=lambda k: (s.values[k], -k))  # a sample that stands out
    a, b = s.ts[i] + 20_000, s.ts[i] + 45_000  # 25 us inside it
    row = trace.sql(
        f"WITH w AS (SELECT 1 AS interval_id, 0::BIGINT AS device_id, {a}::BIGINT AS start_ns, {b}::BIGINT AS end_ns) "
        "SELECT mean_value, samples, below_period, covered_ns FROM gpu_metrics_during(w) "
        "WHERE metric_id = 'tensor_active_pct'"
    ).to_dict("records")[0]
    assert row == {"mean_value": s.values[i], "samples": 1, "below_period": True, "covered_ns": b - a}


def test_idle_gaps_show_the_idle_engine(series, trace):
    rows = trace.sql(
        "SELECT start_ns, end_ns, mean_value FROM gpu_metrics_by_gap WHERE metric_id = 'sm_active_pct'"
    ).to_dict("records")
    assert rows
    for r in rows:
        assert r["mean_value"] == pytest.approx(series[SMS].mean(r["start_ns"], r["end_ns"]), rel=1e-9, abs=1e-9)


# --- the rules ---------------------------------------------------------------------------------------------------


def _found(t, rule):
    a = t.analyze()
    assert a.rule_errors == []
    return [f for f in a.findings if f.rule_id == rule]


def test_pcie_saturated_reports_the_measured_link_use_of_the_copies(raw, series, trace):
    con = sqlite3.connect(raw)
    copies = con.execute('SELECT start, "end", bytes FROM CUPTI_ACTIVITY_KIND_MEMCPY WHERE copyKind = 1').fetchall()
    con.close()
    dur = sum(e - s for s, e, _ in copies)
    pct = sum(series[PCIE_RX].mean(s, e) * (e - s) for s, e, _ in copies) / dur
    (f,) = _found(trace, "pcie_saturated")
    (row,) = f.evidence.to_pylist()
    assert row["direction"] == "HtoD" and row["count"] == len(copies) and row["bytes"] == sum(b for *_, b in copies)
    assert row["pcie_pct"] == pytest.approx(pct, rel=1e-9) and pct > 90
    assert row["saturated_ns"] == pytest.approx(dur * pct / 100, abs=1)
    # the copy time is copy_bound's (exposed copy time): this finding explains it and claims none of it again
    assert f.impact_ns == 0 and f.severity == "high"  # over 10 % of the active span spent at saturation
    (copy,) = _found(trace, "copy_bound")
    assert copy.impact_ns > 0.9 * dur


def test_clock_drop_reports_the_kernels_clock_against_the_rated_clock(raw, series, trace):
    con = sqlite3.connect(raw)
    rated = con.execute("SELECT clockRate FROM TARGET_INFO_GPU").fetchone()[0] / 1e6
    kernels = con.execute(
        'SELECT s.value, k.start, k."end" FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s ON s.id = k.shortName'
    ).fetchall()
    con.close()
    (f,) = _found(trace, "clock_drop")
    by_name = {r["short_name"]: r for r in f.evidence.to_pylist()}
    gemm = [(a, b) for name, a, b in kernels if name == gpu_metric_edits.GEMM_SHORT_NAME]
    dur = sum(b - a for a, b in gemm)
    clock = sum(series[CLOCK].mean(a, b) / 1e6 * (b - a) for a, b in gemm) / dur
    row = by_name[gpu_metric_edits.GEMM_SHORT_NAME]
    assert row["ref_mhz"] == rated and row["clock_mhz"] == pytest.approx(clock, rel=1e-9)
    assert clock < 0.9 * rated  # the bf16 GEMMs ran ~1.4 GHz on a 1.98 GHz part
    assert row["impact_ns"] == pytest.approx(dur * (1 - clock / rated), abs=1)


def _kernel_means(path: Path, metrics: list[str]) -> dict[str, float]:
    """Duration-weighted mean over the GEMM kernels of each metric's per-kernel time-weighted mean."""
    s = read_series(path)
    con = sqlite3.connect(path)
    gemm = con.execute(
        'SELECT k.start, k."end" FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds n ON n.id = k.shortName '
        "WHERE n.value LIKE 'nvjet%' OR n.value LIKE 'sm90_xmma%'"
    ).fetchall()
    con.close()
    dur = sum(b - a for a, b in gemm)
    return {m: sum(s[m].mean(a, b) * (b - a) for a, b in gemm) / dur for m in metrics}


def test_busy_not_working_names_the_stalled_gemm_kernel(tmp_path, open_trace):
    """Named edit (tests/gpu_metric_edits.py): SM Issue, Tensor Active and DRAM at a tenth during the GEMM phases."""
    path = gpu_metric_edits.stalled_gemms(tmp_path)
    means = _kernel_means(path, [SM_ISSUE, TENSOR, DRAM_READ, DRAM_WRITE, SMS])
    (f,) = _found(open_trace(path), "busy_not_working")
    (row,) = [r for r in f.evidence.to_pylist() if r["short_name"] == gpu_metric_edits.GEMM_SHORT_NAME]
    work = max(means[SM_ISSUE], means[TENSOR], means[DRAM_READ], means[DRAM_WRITE])
    assert row["work_pct"] == pytest.approx(work, rel=1e-9) and work < 30
    assert row["sm_active_pct"] == pytest.approx(means[SMS], rel=1e-9)
    assert row["bound_unit"] == {means[TENSOR]: "Tensor Cores", means[SM_ISSUE]: "SM issue"}.get(work, "DRAM")
    assert row["impact_ns"] == pytest.approx(row["dur_ns"] * (1 - work / 100), abs=1)


def test_tensor_cores_idle_names_the_gemm_kernel(tmp_path, open_trace):
    path = gpu_metric_edits.simt_gemms(tmp_path)
    (f,) = _found(open_trace(path), "tensor_cores_idle")
    (row,) = f.evidence.to_pylist()
    want = _kernel_means(path, [TENSOR])[TENSOR]
    assert row["short_name"] == gpu_metric_edits.GEMM_SHORT_NAME
    assert row["tensor_active_pct"] == pytest.approx(want, rel=1e-9, abs=1e-9) and want < 1
    assert gpu_metric_edits.GEMM_SHORT_NAME in f.summary


def test_tensor_core_unused_takes_the_measured_tensor_activity(tmp_path, open_trace):
    idle = _found(open_trace(gpu_metric_edits.fp32_named_gemms(tmp_path, tensor_idle=True)), "tensor_core_unused")
    assert len(idle) == 1 and re.search(r"measured Tensor Active 0\.\d% during these kernels", idle[0].summary)
    busy = gpu_metric_edits.fp32_named_gemms(tmp_path, tensor_idle=False)
    assert _kernel_means(busy, [TENSOR])[TENSOR] > 90
    assert _found(open_trace(busy), "tensor_core_unused") == []  # the name says FP32; the counters say otherwise
    blind = _found(
        open_trace(gpu_metric_edits.fp32_named_gemms(tmp_path, False, keep_metrics=False)), "tensor_core_unused"
    )
    assert len(blind) == 1 and "measured" not in blind[0].summary  # no metrics: the name decides, as before


def test_dram_bound_phases_reports_only_the_edited_phase(tmp_path, open_trace):
    path = gpu_metric_edits.dram_bound_phase(tmp_path)
    s = read_series(path)
    con = sqlite3.connect(path)
    a, b = gpu_metric_edits.phase_window(con, "phase_2")
    con.close()
    (f,) = _found(open_trace(path), "dram_bound_phases")
    (row,) = f.evidence.to_pylist()
    assert row["phase"] == "phase_2"
    assert row["dram_pct"] == pytest.approx(s[DRAM_READ].mean(a, b) + s[DRAM_WRITE].mean(a, b), rel=1e-9)


# --- names -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("SMs Active [Throughput %]", ("sm_active_pct", "pct")),  # Hopper/Ampere sets
        ("SM Active [Throughput %]", ("sm_active_pct", "pct")),  # Turing set
        ("Tensor Active / FP16 Active [Throughput %]", ("tensor_active_pct", "pct")),  # Turing, older nsys
        ("DRAM Read Throughput [Throughput %]", ("dram_read_bw_pct", "pct")),
        ("PCIe TX Throughput [Throughput %]", ("pcie_tx_bw_pct", "pct")),
        ("GPC Clock Frequency [MHz]", ("gpc_clock_mhz", "MHz")),
        ("Compute Warps in Flight [Avg Warps per Cycle]", ("compute_warps_per_cycle", "warps/cycle")),
        ("NVLink RX Responses User Data [Throughput %]", ("nvlink_rx_responses_user_data_pct", "pct")),
        ("PCIe Read Requests to BAR1 [Requests]", ("pcie_read_requests_to_bar1_requests", "requests")),
    ],
)
def test_metric_names_map_to_stable_ids(name, expected):
    assert stable_id(name) == expected


# --- the report --------------------------------------------------------------------------------------------------


def test_report_tables_show_the_per_phase_means(series, phases, trace, open_trace):
    from inferscope.render import report, report_data
    from inferscope.units import fmt_pct

    data = report_data.build(trace, trace.analyze())
    assert [p["phase"] for p in data.gpu_metric_phases] == sorted(phases, key=lambda p: phases[p][0])
    md, html = report.render(data, "md"), report.render(data, "html")
    for row in data.gpu_metric_phases:
        a, b = phases[row["phase"]]
        want = {
            "sm_active_pct": series[SMS].mean(a, b),
            "tensor_active_pct": series[TENSOR].mean(a, b),
            "pcie_rx_pct": series[PCIE_RX].mean(a, b),
            "dram_pct": series[DRAM_READ].mean(a, b) + series[DRAM_WRITE].mean(a, b),
        }
        for key, value in want.items():
            assert row[key] == pytest.approx(value, rel=1e-9), (row["phase"], key)
        cells = " | ".join(fmt_pct(want[k]) for k in ("sm_active_pct",))
        assert f"| `{row['phase']}` | 0 |" in md and cells in md
        assert fmt_pct(want["tensor_active_pct"]) in html
    assert "GPU hardware metrics by phase" in md and 'id="gpu-metrics"' in html
    plain = open_trace(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite")
    other = report_data.build(plain, plain.analyze())
    assert other.gpu_metric_phases == []
    assert "GPU hardware metrics" not in report.render(other, "md") + report.render(other, "html")


# --- the busy ledger ---------------------------------------------------------------------------------------------


def _kernel_union_ns(path: Path) -> int:
    """Kernel busy time of the export's one GPU as an interval union, from the raw kernel table."""
    con = sqlite3.connect(path)
    spans = con.execute('SELECT start, "end" FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY start').fetchall()
    con.close()
    total, reach = 0, None
    for a, b in spans:
        if reach is None or a >= reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total


def _ledger(t) -> dict[str, int]:
    rows = t.sql("SELECT cls, sum(busy_ns) AS ns FROM busy_ledger GROUP BY cls").to_dict("records")
    return {r["cls"]: int(r["ns"]) for r in rows}


def _metric(a, metric_id: str):
    (m,) = [m for m in a.metrics if m.id == metric_id and m.device_id == 0]
    return m.value


RULE_OWNERS = ("busy_not_working", "tensor_cores_idle", "tensor_core_unused", "clock_drop")


def _busy_claims_fit(t, a, raw_path: Path) -> None:
    """The busy ledger sums to the raw kernel busy time, each busy-owning rule claims at most its class, and the
    busy and idle ledgers together never exceed the active span (no nanosecond counted twice)."""
    ledger = _ledger(t)
    busy = _kernel_union_ns(raw_path)
    assert sum(ledger.values()) == pytest.approx(busy, abs=len(ledger))
    owned = {"busy_not_working": "stalled", "tensor_cores_idle": "tensor_idle", "tensor_core_unused": "tensor_idle"}
    for rule, cls in owned.items():
        claimed = sum(f.impact_ns for f in a.findings if f.rule_id == rule)
        assert claimed <= ledger.get(cls, 0), rule
    clock = sum(f.impact_ns for f in a.findings if f.rule_id == "clock_drop")
    assert clock <= ledger.get("working", 0)
    idle = t.sql("SELECT sum(dur_ns) AS ns FROM idle_ledger")["ns"][0]
    span = t.sql("SELECT span_ns, copy_busy_ns, busy_ns FROM gpu_device_summary").to_dict("records")[0]
    assert sum(ledger.values()) + idle <= span["span_ns"]
    for cls, metric in (
        ("working", "busy_working_ns"),
        ("stalled", "busy_stalled_ns"),
        ("tensor_idle", "busy_tensor_idle_ns"),
        ("unmeasured", "busy_unmeasured_ns"),
    ):
        assert _metric(a, metric) == ledger.get(cls, 0), metric


def test_busy_ledger_on_the_real_export_is_all_working(raw, series, trace):
    """The bf16 GEMMs kept the Tensor Cores ~94 % busy: all kernel busy time is working, nothing stalled."""
    a = trace.analyze()
    _busy_claims_fit(trace, a, raw)
    assert _ledger(trace) == {"working": _kernel_union_ns(raw)}
    con = sqlite3.connect(raw)
    kernels = con.execute('SELECT start, "end" FROM CUPTI_ACTIVITY_KIND_KERNEL').fetchall()
    con.close()
    s = read_series(raw)
    long = [(x, y) for x, y in kernels if y - x >= s[TENSOR].period]  # executions of at least one period
    dur = sum(y - x for x, y in long)
    for metric, name in (("kernel_tensor_active_pct", TENSOR), ("kernel_sm_active_pct", SMS)):
        want = sum(s[name].mean(x, y) * (y - x) for x, y in long) / dur
        assert _metric(a, metric) == pytest.approx(want, rel=1e-9)
    assert 93 < _metric(a, "kernel_tensor_active_pct") < 95


def test_busy_ledger_stalled_gemms_go_to_busy_not_working_only(tmp_path, open_trace):
    """Edit (stalled_gemms): SM Issue, Tensor Active and DRAM at a tenth during the GEMM phases. The GEMMs are
    resident but stalled: busy_not_working owns them; tensor_cores_idle (Tensor Active 9 %) and clock_drop (1.4 GHz)
    must not report the same time again."""
    path = gpu_metric_edits.stalled_gemms(tmp_path)
    t = open_trace(path)
    a = t.analyze()
    assert a.rule_errors == []
    _busy_claims_fit(t, a, path)
    con = sqlite3.connect(path)
    gemm_ns = con.execute(
        'SELECT sum(k."end" - k.start) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds n ON n.id = k.shortName '
        "WHERE n.value = ?",
        (gpu_metric_edits.GEMM_SHORT_NAME,),
    ).fetchone()[0]
    con.close()
    assert _ledger(t)["stalled"] == gemm_ns
    fired = {f.rule_id for f in a.findings}
    assert "busy_not_working" in fired
    assert not fired & {"tensor_cores_idle", "clock_drop", "tensor_core_unused"}


def test_busy_ledger_simt_gemms_go_to_tensor_cores_idle_only(tmp_path, open_trace):
    """Edit (simt_gemms): Tensor Active 0 and SM Issue 80 % in the GEMM phases: the math ran on the CUDA cores."""
    path = gpu_metric_edits.simt_gemms(tmp_path)
    t = open_trace(path)
    a = t.analyze()
    _busy_claims_fit(t, a, path)
    assert _ledger(t)["tensor_idle"] > 0.99 * _kernel_union_ns(path)
    fired = {f.rule_id for f in a.findings}
    assert "tensor_cores_idle" in fired and not fired & {"busy_not_working", "clock_drop", "tensor_core_unused"}


def test_busy_ledger_fp32_named_idle_gemms_go_to_tensor_core_unused_only(tmp_path, open_trace):
    """Edit (fp32_named_gemms, tensor_idle): the name says FP32 SIMT and Tensor Active reads 0: one owner."""
    path = gpu_metric_edits.fp32_named_gemms(tmp_path, tensor_idle=True)
    t = open_trace(path)
    a = t.analyze()
    _busy_claims_fit(t, a, path)
    owners = t.sql("SELECT DISTINCT owner FROM busy_ledger WHERE owner IS NOT NULL")["owner"].tolist()
    assert owners == ["tensor_core_unused"]
    fired = {f.rule_id for f in a.findings}
    assert "tensor_core_unused" in fired and not fired & {"busy_not_working", "tensor_cores_idle", "clock_drop"}


def test_a_trace_without_metrics_has_no_busy_ledger_or_busy_metrics(open_trace):
    t = open_trace(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite")
    a = t.analyze()
    assert t.sql("SELECT count(*) AS n FROM busy_ledger")["n"][0] == 0
    busy_ids = {"busy_working_ns", "busy_stalled_ns", "busy_tensor_idle_ns", "busy_unmeasured_ns"}
    assert [m.id for m in a.metrics if m.id in busy_ids | {"kernel_sm_active_pct", "kernel_tensor_active_pct"}] == []


def test_report_chart_bins_and_step_table_match_the_raw_series(series, phases, trace, open_trace):
    """The chart under the timeline draws each counter's time-weighted mean over the timeline's own bins, and the
    per-step table (phases taken as steps) each step's means: both recomputed here from the raw export."""
    from inferscope.render import report_data

    data = report_data.build(trace, trace.analyze(step_patterns=["^phase_[0-9]$"]))
    (dev,) = data.gpu_metric_bins
    bins = data.gpu_metric_bins[dev]
    assert bins["t_ns"] == data.bins[dev]["t_ns"] and bins["w_ns"] == data.bins[dev]["w_ns"]  # the timeline's grid
    w = bins["w_ns"]
    first, last = min(series[SMS].ts), max(series[SMS].ends)
    for name, metric_id in ((SMS, "sm_active_pct"), (TENSOR, "tensor_active_pct"), (PCIE_RX, "pcie_rx_bw_pct")):
        for t, got in zip(bins["t_ns"], bins[metric_id]):
            if t + w <= first or t >= last:
                assert got is None  # no sample in the bin: a gap in the chart, not a zero
            else:
                assert got == pytest.approx(series[name].mean(t, t + w), rel=1e-9, abs=1e-9)
    assert [r["name"] for r in data.gpu_metric_steps] == sorted(phases, key=lambda p: phases[p][0])
    for r in data.gpu_metric_steps:
        a, b = phases[r["name"]]
        assert r["dur_ns"] == b - a
        assert r["tensor_active_pct"] == pytest.approx(series[TENSOR].mean(a, b), rel=1e-9)
        assert r["sm_active_pct"] == pytest.approx(series[SMS].mean(a, b), rel=1e-9)
        assert r["pcie_rx_pct"] == pytest.approx(series[PCIE_RX].mean(a, b), rel=1e-9)
    plain = open_trace(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite")
    other = report_data.build(plain, plain.analyze())
    assert other.gpu_metric_bins == {} and other.gpu_metric_steps == []


def test_request_windows_get_the_metrics_of_their_life_and_its_two_parts(raw, series, phases, tmp_path, open_trace):
    """A request file written here (AIPerf's record format; the trace is the real export, the requests an edit
    beside it): one request spans phase_1 (copies) with its first token at the phase's middle, one spans phase_2
    (GEMMs). Their windows' means are recomputed from the raw series."""
    import json

    con = sqlite3.connect(raw)
    zero = con.execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()[0]
    con.close()
    lines = []
    for rid, phase in (("req-copy", "phase_1"), ("req-gemm", "phase_2")):
        a, b = phases[phase]
        ttft_ms, latency_ms = (b - a) / 2 / 1e6, (b - a) / 1e6
        lines.append(
            json.dumps(
                {
                    "metadata": {"x_request_id": rid, "timestamp_ns": zero + a},
                    "metrics": {
                        "ttft": {"value": ttft_ms, "unit": "ms"},
                        "request_latency": {"value": latency_ms, "unit": "ms"},
                        "input_sequence_length": {"value": 8, "unit": "tokens"},
                        "output_sequence_length": {"value": 2, "unit": "tokens"},
                        "inter_chunk_latency": {"value": [latency_ms - ttft_ms], "unit": "ms"},
                    },
                }
            )
        )
    requests = tmp_path / "edit_requests_over_phases.jsonl"
    requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = inferscope_open_fresh(raw, tmp_path)
    t.attach_requests(requests)
    rows = t.sql(
        "SELECT request_id, part, metric_id, start_ns, end_ns, mean_value FROM gpu_metrics_by_request "
        "WHERE metric_id IN ('sm_active_pct', 'tensor_active_pct', 'pcie_rx_bw_pct')"
    ).to_dict("records")
    names = {"sm_active_pct": SMS, "tensor_active_pct": TENSOR, "pcie_rx_bw_pct": PCIE_RX}
    assert {(r["request_id"], r["part"]) for r in rows} == {
        (q, p) for q in ("req-copy", "req-gemm") for p in ("in_flight", "to_first_token", "after_first_token")
    }
    for r in rows:
        want = series[names[r["metric_id"]]].mean(r["start_ns"], r["end_ns"])
        assert r["mean_value"] == pytest.approx(want, rel=1e-6, abs=1e-6), r
    life = {(r["request_id"], r["metric_id"]): r["mean_value"] for r in rows if r["part"] == "in_flight"}
    assert life[("req-copy", "pcie_rx_bw_pct")] > 85 and life[("req-copy", "sm_active_pct")] < 0.05
    assert life[("req-gemm", "tensor_active_pct")] > 90


def inferscope_open_fresh(path: Path, tmp_path: Path):
    """A trace opened with its own cache: attaching requests changes it, which must not leak into other tests."""
    import inferscope

    return inferscope.open(path, cache_dir=tmp_path / "cache")
