"""The environment diff that opens every compare report (issue 20): GPU model and count, driver, CUDA, profiler,
host name, host CPU, OS and the cloud or cluster, as far as each real trace records them.

A reviewer must see that two runs came from different hosts or machines before reading any number, so these tests
read the facts straight from the raw Nsight Systems exports with sqlite3 (TARGET_INFO_SYSTEM_ENV, the captured
environment variables in META_DATA_CAPTURE) and check that compare shows exactly those, on real traces.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import NSYS_TRACES, compare_json, needs_shared, run_cli

pytestmark = needs_shared

SAXPY = NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite"  # A100-SXM4-40GB, no captured environment variables
CLOVERLEAF = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"  # A100-SXM4-80GB on a Slurm cluster
FASTVIDEO = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"  # Modal; its CPU model is recorded as "unknown"
CUPY_T4 = NSYS_TRACES / "t4_cupy_power_iteration_nsys2025.3.sqlite"  # Google Colab


def raw_system(path) -> dict[str, str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        con.text_factory = lambda b: b.decode("utf-8", "replace")  # some values hold raw bytes
        return {n: str(v) for n, v in con.execute("SELECT name, value FROM TARGET_INFO_SYSTEM_ENV")}


def raw_env(path) -> dict[str, str]:
    """The profiled process's environment variables as nsys captured them (none in older exports)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        con.text_factory = lambda b: b.decode("utf-8", "replace")
        has = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'META_DATA_CAPTURE'").fetchone()
        rows = con.execute("SELECT name, value FROM META_DATA_CAPTURE").fetchall() if has else []
    items = [str(v).split("=", 1) for n, v in rows if n == "PROCESS_0:ENVIRONMENT_VARIABLE" and "=" in str(v)]
    return {k: v.strip('"') for k, v in items}


def expected_host(path) -> dict[str, str]:
    """What the environment rows must say, restated from the raw export."""
    system, env = raw_system(path), raw_env(path)
    out = {"hostname": system["Hostname"], "os": system["OsDescription"]}
    if system["CpuDescription"].lower() != "unknown":
        out["host_cpu"] = f"{system['CpuDescription']}, {system['CpuCores']} cores"
    if "MODAL_CLOUD_PROVIDER" in env:
        provider = env["MODAL_CLOUD_PROVIDER"].removeprefix("CLOUD_PROVIDER_")
        out["cloud"] = f"Modal on {provider}, {env['MODAL_REGION']}"
    elif "COLAB_RELEASE_TAG" in env or "COLAB_GPU" in env:
        out["cloud"] = "Google Colab"
    elif "SLURM_CLUSTER_NAME" in env:
        out["cloud"] = f"Slurm cluster {env['SLURM_CLUSTER_NAME']}"
    return out


@pytest.mark.parametrize("path", [SAXPY, CLOVERLEAF, FASTVIDEO, CUPY_T4], ids=lambda p: p.stem)
def test_host_facts_are_the_raw_exports(path, open_trace):
    from inferscope.comparison import environment

    got = environment.environment(open_trace(path))
    expect = expected_host(path)
    assert {k: got.get(k) for k in ("hostname", "os", "host_cpu", "cloud")} == {
        k: expect.get(k) for k in ("hostname", "os", "host_cpu", "cloud")
    }
    # the cases the traces were chosen for: a CPU nsys could not name is left out, not shown as "unknown"
    if path == FASTVIDEO:
        assert raw_system(path)["CpuDescription"] == "unknown" and "host_cpu" not in got
        assert got["cloud"] == "Modal on GCP, us-west4"
    if path == SAXPY:
        assert not raw_env(path) and "cloud" not in got


def test_different_machines_lead_the_report_and_the_gpu_change_refuses(cache_dir):
    """Two real runs on different nodes of one cluster with different A100 models: not comparable (exit 2), and the
    environment table at the top says which host, CPU, OS and cluster each came from."""
    code, report, err = compare_json(SAXPY, CLOVERLEAF, cache_dir=cache_dir)
    assert code == 2 and report["verdict"] == "not_comparable"
    assert err.strip() == (
        "inferscope: not comparable: GPU model NVIDIA A100-SXM4-40GB -> NVIDIA A100-SXM4-80GB; pass "
        "--allow-hardware-change if the change is intended"
    )
    rows = {r["key"]: r for r in report["environment"]}
    base, new = expected_host(SAXPY), expected_host(CLOVERLEAF)
    for key in ("hostname", "host_cpu", "os", "cloud"):
        assert (rows[key]["base"], rows[key]["new"]) == (base.get(key), new.get(key)), key
        assert rows[key]["changed"] == (key in base and key in new and base[key] != new[key])
    assert rows["hostname"]["changed"] and not rows["host_cpu"]["changed"]
    assert rows["cloud"]["base"] is None and rows["cloud"]["new"] == "Slurm cluster perlmutter"
    # Markdown: the environment table comes before anything else but the verdict line
    md = run_cli("compare", SAXPY, CLOVERLEAF, "--cache-dir", cache_dir).stdout
    lines = md.splitlines()
    assert lines[0].startswith("### inferscope compare: ⛔ not comparable")
    start = lines.index("| environment | base | new | |")
    assert all(not x.startswith("|") for x in lines[1:start])
    table = lines[start : lines.index("", start)]
    assert "| host | nid001608 | nid008553 | changed |" in table
    assert f"| host CPU | {base['host_cpu']} | {new['host_cpu']} |  |" in table
    assert "| cloud / cluster | not recorded | Slurm cluster perlmutter |  |" in table
