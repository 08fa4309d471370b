"""Start and stop a serving engine's profiler over HTTP, and say where its trace and the request export are.

vLLM (`vllm serve` with VLLM_TORCH_PROFILER_DIR set) and SGLang (`--enable-profile` or SGLANG_TORCH_PROFILER_DIR)
both expose POST /start_profile and POST /stop_profile; SGLang takes a JSON body naming the output folder. The
switch records the UTC times of both calls, because the trace's own clock anchor says when the profiler started
but not when AIPerf's profiling phase did, and writes them with the paths to `inferscope_profile.json` so that
`inferscope analyze` can be pointed at the pair. Standard library only: it runs inside AIPerf's processes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

ENGINES = ("vllm", "sglang")
MANIFEST = "inferscope_profile.json"


class ProfilerSwitchError(RuntimeError):
    """The engine refused or could not be reached; the message is one line naming the URL."""


class ProfilerSwitch:
    """One engine's profiler endpoints. `start()` and `stop()` are each called once per profiling phase."""

    def __init__(self, url: str, engine: str = "vllm", trace_dir: str | None = None, timeout_s: float = 60.0):
        if engine not in ENGINES:
            raise ProfilerSwitchError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        if not url.startswith(("http://", "https://")):
            raise ProfilerSwitchError(f"engine URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.engine = engine
        self.trace_dir = trace_dir
        self.timeout_s = timeout_s
        self.started_utc_ns: int | None = None
        self.stopped_utc_ns: int | None = None

    def _post(self, path: str, body: dict | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.url + path, data=data, method="POST")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise ProfilerSwitchError(f"{self.url}{path} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProfilerSwitchError(f"{self.url}{path} could not be reached: {reason}") from None

    def _body(self) -> dict | None:
        # vLLM's endpoints take no body (the folder is the server's VLLM_TORCH_PROFILER_DIR); SGLang's take one
        if self.engine == "sglang" and self.trace_dir:
            return {"output_dir": self.trace_dir}
        return None

    def start(self) -> None:
        self.started_utc_ns = time.time_ns()
        self._post("/start_profile", self._body())

    def stop(self) -> None:
        self._post("/stop_profile", None)
        self.stopped_utc_ns = time.time_ns()

    def write_manifest(self, artifact_dir: str | Path) -> Path:
        """inferscope_profile.json beside AIPerf's exports: what was profiled, when, and the analyse command."""
        folder = Path(artifact_dir)
        folder.mkdir(parents=True, exist_ok=True)
        requests = folder / "profile_export.jsonl"
        trace = self.trace_dir or "<the engine's profiler folder>"
        doc = {
            "engine": self.engine,
            "engine_url": self.url,
            "profile_started_utc_ns": self.started_utc_ns,
            "profile_stopped_utc_ns": self.stopped_utc_ns,
            "trace_dir": self.trace_dir,
            "requests": str(requests),
            "analyze": f"inferscope analyze {trace} --requests {requests}",
        }
        path = folder / MANIFEST
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        return path


def from_environment(env: dict[str, str]) -> ProfilerSwitch | None:
    """The switch the environment asks for (INFERSCOPE_ENGINE_URL, INFERSCOPE_ENGINE, INFERSCOPE_TRACE_DIR), or
    None when no engine URL is set: the plugin is installed for every AIPerf run and must stay out of the others."""
    url = env.get("INFERSCOPE_ENGINE_URL")
    if not url:
        return None
    return ProfilerSwitch(url, env.get("INFERSCOPE_ENGINE", "vllm"), env.get("INFERSCOPE_TRACE_DIR") or None)


class PhaseHooks:
    """What the AIPerf service does on each credit phase message, apart from AIPerf so that it can be tested with
    a stand-in engine: only the profiling phase switches the profiler; warm-up and other phases pass."""

    def __init__(self, switch: ProfilerSwitch, artifact_dir: str | Path):
        self.switch = switch
        self.artifact_dir = Path(artifact_dir)
        self.running = False

    def phase_started(self, is_profiling: bool) -> None:
        if is_profiling and not self.running:
            self.switch.start()
            self.running = True

    def phase_completed(self, is_profiling: bool) -> Path | None:
        if is_profiling and self.running:
            self.running = False
            self.switch.stop()
            return self.switch.write_manifest(self.artifact_dir)
        return None
