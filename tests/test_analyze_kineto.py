"""`analyze` on the shared PyTorch-profiler (Kineto) traces: the same views, metrics and rules run on Kineto-shaped
data (cpu_op ranges, ProfilerStep#N annotations, GPU work attributed to the launching process).

Step counts are checked against ../shared/traces/PROVENANCE.md, which states how many profiler steps each trace
holds. Skipped where the Kineto ingest (inferscope/ingest/kineto.py, another work item) is not present."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import KINETO_TRACES, REPO

pytest.importorskip("inferscope.ingest.kineto", reason="the Kineto ingest is not on this branch yet")

SCHEMA = json.loads((REPO / "inferscope" / "schemas" / "analysis-v1.schema.json").read_text())
TRACES = sorted(KINETO_TRACES.glob("*.json.gz")) if KINETO_TRACES.exists() else []


@pytest.mark.skipif(not TRACES, reason=f"shared Kineto traces not found at {KINETO_TRACES}")
@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name.split(".")[0])
def test_kineto_traces_analyse_and_validate(path, open_trace):
    a = open_trace(path).analyze()
    assert a.rule_errors == []
    jsonschema.validate(json.loads(a.to_json()), SCHEMA)


@pytest.mark.skipif(not TRACES, reason=f"shared Kineto traces not found at {KINETO_TRACES}")
@pytest.mark.parametrize("name,steps", [("ab_control_a100", 6), ("ab_test_v100", 6), ("v100_rank1_train", 5)])
def test_profiler_steps_are_found(name, steps, open_trace):
    a = open_trace(KINETO_TRACES / f"{name}.json.gz").analyze()
    assert a.value("step_count") == steps == len(a.steps)
    assert all(r["name"].startswith("ProfilerStep#") for r in a.steps.to_pylist())
    assert a.value("step_time_p50_ns") > 0 and a.value("step_kernels_p50") > 0
