-- rule: cold_start
-- title: The trace is mostly start-up, not a steady step
-- severity: auto
-- group_by: pid
-- param min_share_pct = 25.0: report a process whose warm-up window (view warmup) covers at least this share of
--   its recorded span ...
-- param min_idle_share_pct = 25.0: ... or holds at least this share of its GPU idle time
-- param min_startup_ns = 1000000: ... provided the window holds at least this much start-up work (module loading,
--   JIT compilation, handle creation, a warm-up annotation; ns) or a warm-up step
-- impact: the process's GPU idle time inside the warm-up window: idle that a steady step would not have, and that
--   the other rules would otherwise blame on the steady loop.
-- summary: Process {pid}: the first {dur_ns:time} of its {span_ns:time} ({share_pct:pct}) are start-up and hold
--   {idle_share_pct:pct} of its GPU idle time ({impact:time}): {evidence}.
-- recommendation: Profile a steady step instead: start the profiler after warm-up (torch.profiler.schedule(wait=1,
--   warmup=2, active=3), nsys --capture-range=cudaProfilerApi or --delay), or analyse the steady part of this trace
--   with --skip-warmup (or --window {steady_from}:). Advice for the steady state (CUDA graphs, allocation) is not
--   given for work inside this window.
-- why: One-shot work (lazy module loading at a kernel's first launch, NVRTC/Triton/nvFuser compilation, cuBLAS and
--   cuDNN handle creation, the first iteration's autotuning and allocation) happens once per process; optimising
--   it does not speed up the loop, and it distorts every per-trace figure of a short trace.
SELECT gpu_idle_ns AS impact_ns, pid, start_ns, end_ns, dur_ns, span_ns, share_pct, idle_share_pct, gpu_idle_ns,
       gpu_idle_total_ns, startup_ns, module_loads, module_load_ns, jit_count, jit_ns, handle_count, handle_ns,
       warmup_steps, first_step_ns, steady_step_ns, evidence, steady_from
FROM warmup
WHERE (share_pct >= $min_share_pct OR coalesce(idle_share_pct, 0) >= $min_idle_share_pct)
  AND (startup_ns >= $min_startup_ns OR warmup_steps > 0)
