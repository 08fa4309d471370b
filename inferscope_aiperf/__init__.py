"""The load generator as the trigger: an AIPerf plugin that turns the serving engine's profiler on for AIPerf's
profiling phase only, so the trace holds the measured requests and not the warm-up, and leaves the request export
and the trace side by side for `inferscope analyze TRACE --requests profile_export.jsonl`.

`profiler_switch` (standard library only) talks to the engine; `service` is the AIPerf service that calls it and
is imported only by AIPerf's plugin registry (entry point group `aiperf.plugins`, manifest `plugins.yaml`).
"""
