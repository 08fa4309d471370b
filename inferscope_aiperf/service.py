"""The AIPerf 0.13 service that brackets the profiling phase with the engine's profiler (plugins.yaml names it).

AIPerf 0.13 has no `on_phase_start` / `on_phase_complete` plugin hooks (those names are internal callbacks of its
phase runner); what a plugin can use is a service on the message bus, which receives the TimingManager's
CREDIT_PHASE_START and CREDIT_PHASE_COMPLETE messages, whose `stats.is_profiling` tells the profiling phase from
warm-up. Imported only by AIPerf's plugin registry, so it may import AIPerf.
"""

from __future__ import annotations

import os

from aiperf.common.base_component_service import BaseComponentService
from aiperf.common.enums import MessageType
from aiperf.common.hooks import on_message
from aiperf.credit.messages import CreditPhaseCompleteMessage, CreditPhaseStartMessage

from .profiler_switch import PhaseHooks, ProfilerSwitchError, from_environment


class InferScopeProfilerService(BaseComponentService):
    """Starts the engine's profiler when the profiling phase starts and stops it when the phase completes."""

    def __init__(self, run, service_id: str | None = None, **kwargs) -> None:
        super().__init__(run=run, service_id=service_id, **kwargs)
        switch = from_environment(dict(os.environ))
        self._hooks = PhaseHooks(switch, run.cfg.artifacts.artifact_directory) if switch else None

    @on_message(MessageType.CREDIT_PHASE_START)
    async def _on_credit_phase_start(self, message: CreditPhaseStartMessage) -> None:
        if self._hooks is None:
            return
        try:
            self._hooks.phase_started(message.stats.is_profiling)
        except ProfilerSwitchError as exc:
            self.error(f"InferScope: the engine's profiler did not start: {exc}")

    @on_message(MessageType.CREDIT_PHASE_COMPLETE)
    async def _on_credit_phase_complete(self, message: CreditPhaseCompleteMessage) -> None:
        if self._hooks is None:
            return
        try:
            path = self._hooks.phase_completed(message.stats.is_profiling)
        except ProfilerSwitchError as exc:
            self.error(f"InferScope: the engine's profiler did not stop: {exc}")
            return
        if path is not None:
            self.info(f"InferScope: trace and requests described in {path}")
