"""The AIPerf plugin (issue 22): the serving engine's profiler runs for AIPerf's profiling phase only, and the
request export and the trace are left side by side for `inferscope analyze`.

The engine is a stand-in: a small HTTP server on 127.0.0.1 that answers POST /start_profile and /stop_profile as
vLLM and SGLang do and records what it was sent (no real engine runs here). The hooks are driven with the phase
flags AIPerf's credit-phase messages carry (`stats.is_profiling`). Where AIPerf 0.13 itself is installed (the
`aiperf` extra), its own plugin schema and message types check the manifest and the service.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inferscope_aiperf.profiler_switch import (
    MANIFEST,
    PhaseHooks,
    ProfilerSwitch,
    ProfilerSwitchError,
    from_environment,
)
from tests.conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class StandInEngine:
    """Stand-in for a serving engine's profiler endpoints: records (path, body, UTC ns) per POST; `status` is what
    it answers."""

    def __init__(self, status: int = 200):
        self.calls: list[tuple[str, bytes, int]] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                engine.calls.append((self.path, body, time.time_ns()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_profiler_runs_for_the_profiling_phase_only(tmp_path, engine):
    """Warm-up passes untouched; the profiling phase's start and completion each make one POST, in order, inside
    the times the manifest records; the manifest names the request export beside it and the command to run."""
    with StandInEngine() as stand_in:
        hooks = PhaseHooks(ProfilerSwitch(stand_in.url, engine, str(tmp_path / "traces")), tmp_path / "artifacts")
        hooks.phase_started(is_profiling=False)  # warm-up
        assert hooks.phase_completed(is_profiling=False) is None
        assert stand_in.calls == []
        hooks.phase_started(is_profiling=True)
        hooks.phase_started(is_profiling=True)  # a repeated message does not start it twice
        path = hooks.phase_completed(is_profiling=True)
        assert hooks.phase_completed(is_profiling=True) is None  # nor stop it twice

    assert [c[0] for c in stand_in.calls] == ["/start_profile", "/stop_profile"]
    start_body, stop_body = stand_in.calls[0][1], stand_in.calls[1][1]
    if engine == "sglang":  # SGLang is told where to write; vLLM writes to its VLLM_TORCH_PROFILER_DIR
        assert json.loads(start_body) == {"output_dir": str(tmp_path / "traces")}
    else:
        assert start_body == b""
    assert stop_body == b""

    assert path == tmp_path / "artifacts" / MANIFEST
    doc = json.loads(path.read_text())
    assert (
        doc["profile_started_utc_ns"] <= stand_in.calls[0][2] <= stand_in.calls[1][2] <= doc["profile_stopped_utc_ns"]
    )
    assert doc["requests"] == str(tmp_path / "artifacts" / "profile_export.jsonl")
    assert doc["engine"] == engine and doc["engine_url"] == stand_in.url
    assert doc["analyze"] == f"inferscope analyze {tmp_path / 'traces'} --requests {doc['requests']}"


def test_an_engine_that_refuses_is_one_line_naming_the_url(tmp_path):
    with StandInEngine(status=500) as stand_in:
        with pytest.raises(ProfilerSwitchError) as refused:
            ProfilerSwitch(stand_in.url).start()
    assert str(refused.value) == f"{stand_in.url}/start_profile answered HTTP 500 Internal Server Error"

    with StandInEngine() as stand_in:
        url = stand_in.url
    with pytest.raises(ProfilerSwitchError) as gone:  # the stand-in has shut down: nothing listens on its port
        ProfilerSwitch(url, timeout_s=5).stop()
    assert str(gone.value).startswith(f"{url}/stop_profile could not be reached") and "\n" not in str(gone.value)


def test_the_environment_switches_it_on_or_leaves_aiperf_alone():
    assert from_environment({}) is None  # installed for every AIPerf run; silent unless asked
    switch = from_environment(
        {"INFERSCOPE_ENGINE_URL": "http://127.0.0.1:8000/", "INFERSCOPE_ENGINE": "sglang", "INFERSCOPE_TRACE_DIR": "/t"}
    )
    assert (switch.url, switch.engine, switch.trace_dir) == ("http://127.0.0.1:8000", "sglang", "/t")
    with pytest.raises(ProfilerSwitchError, match="engine 'trtllm' is not one of vllm, sglang"):
        from_environment({"INFERSCOPE_ENGINE_URL": "http://127.0.0.1:8000", "INFERSCOPE_ENGINE": "trtllm"})
    with pytest.raises(ProfilerSwitchError, match="must start with http"):
        ProfilerSwitch("127.0.0.1:8000")


def test_the_entry_point_names_the_manifest_and_the_manifest_names_the_service():
    """Read from the files, without AIPerf: pyproject's aiperf.plugins entry point is `package:manifest`, the
    manifest's service class exists in that package and handles both credit-phase messages."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    package, _, manifest = project["entry-points"]["aiperf.plugins"]["inferscope"].partition(":")
    text = (REPO / package / manifest).read_text()
    class_path = next(line.split("class:")[1].strip() for line in text.splitlines() if "class:" in line)
    module, _, cls = class_path.partition(":")
    tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    handled = {
        d.args[0].attr
        for f in node.body
        if isinstance(f, ast.AsyncFunctionDef)
        for d in f.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "on_message"
    }
    assert handled == {"CREDIT_PHASE_START", "CREDIT_PHASE_COMPLETE"}
    assert any(r.startswith("aiperf>=0.13") for r in project["optional-dependencies"]["aiperf"])


@pytest.mark.skipif(importlib.util.find_spec("aiperf") is None, reason="AIPerf not installed (extra: aiperf)")
def test_aiperf_accepts_the_manifest_and_the_service():
    """AIPerf's own manifest schema validates plugins.yaml, its registry loads it, and the service's hooks are registered for the message
    types AIPerf sends around its profiling phase, whose stats say is_profiling."""
    from aiperf.common.base_component_service import BaseComponentService
    from aiperf.common.enums import MessageType
    from aiperf.common.models.credit_models import CreditPhaseStats
    from aiperf.plugin.schema.schemas import PluginsManifest
    from ruamel.yaml import YAML

    from inferscope_aiperf.service import InferScopeProfilerService

    from aiperf.plugin import plugins
    from aiperf.plugin.enums import PluginType

    raw = YAML(typ="safe").load((REPO / "inferscope_aiperf" / "plugins.yaml").read_text())
    assert set(PluginsManifest.model_validate(raw).service) == {"inferscope_profiler"}
    # the registry loads the manifest as the entry point names it and resolves the service class
    plugins.load_manifest("inferscope_aiperf:plugins.yaml")
    assert plugins.get_class(PluginType.SERVICE, "inferscope_profiler") is InferScopeProfilerService
    assert issubclass(InferScopeProfilerService, BaseComponentService)
    hooked = {
        m: getattr(InferScopeProfilerService, m).__aiperf_hook_params__
        for m in ("_on_credit_phase_start", "_on_credit_phase_complete")
    }
    assert hooked == {
        "_on_credit_phase_start": (MessageType.CREDIT_PHASE_START,),
        "_on_credit_phase_complete": (MessageType.CREDIT_PHASE_COMPLETE,),
    }
    assert isinstance(CreditPhaseStats.is_profiling, property)
