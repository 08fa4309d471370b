-- rule: alloc_churn
-- title: Memory allocation in the steady state
-- severity: auto
-- steady_state: true
-- group_by: pid
-- param warmup_steps = 1: with step markers, calls in the first this-many steps of a process are warm-up
-- param warmup_frac = 0.1: without step markers, calls in the first this fraction of the process's GPU span are
--   warm-up (and calls after its last GPU operation are teardown)
-- param min_calls = 2: report a process with at least this many steady-state allocation calls
-- impact: GPU idle the calls caused: the idle ledger's host-wait gaps (view idle_ledger) whose wait was one of
--   these calls (cudaFree and cudaFreeHost synchronise the device). The host time spent in the calls is shown
--   (host_ns), not counted: it is GPU idle only where the ledger says so.
-- summary: Process {pid} made {n} allocation calls after warm-up ({api_mix}), spending {sum_dur_ns:time} in them and
--   leaving the GPU idle {impact:time}; the costliest was {api_name} ({dur_ns:time}){culprit}.
-- recommendation: Allocate once and reuse: preallocate buffers (KV cache, workspaces, pinned staging buffers) at
--   startup, rely on PyTorch's caching allocator rather than emptying it (torch.cuda.empty_cache()), use
--   cudaMallocAsync/memory pools for transient buffers, and register host memory once.
-- why: cudaMalloc/cudaFree and host pinning are slow driver calls (cudaFree synchronises the device, pinning walks
--   page tables); in the loop they add host latency and stalls every iteration.
WITH allocs AS (
    SELECT a.*
    FROM api_calls a
    WHERE a.name IN ('cudaMalloc', 'cudaFree', 'cudaMallocHost', 'cudaFreeHost', 'cudaHostAlloc', 'cudaHostRegister',
                     'cudaHostUnregister', 'cudaMallocManaged', 'cudaMallocPitch', 'cudaMalloc3D', 'cudaMallocArray',
                     'cuMemAlloc', 'cuMemFree', 'cuMemAllocHost', 'cuMemFreeHost', 'cuMemHostAlloc',
                     'cuMemHostRegister', 'cuMemHostUnregister', 'cuMemAllocManaged', 'cuMemAllocPitch')
),
with_steps AS (
    SELECT a.*, s.step_index
    FROM allocs a
    ASOF JOIN steps s ON s.pid = a.pid AND s.start_ns <= a.start_ns
    WHERE a.start_ns < s.end_ns
),
spans AS (
    SELECT pid, min(start_ns) AS first_ns, max(end_ns) AS last_ns FROM gpu_ops GROUP BY pid
),
steady AS (
    SELECT w.pid, w.tid, w.start_ns, w.end_ns, w.dur_ns, w.name, w.step_index FROM with_steps w
    WHERE w.step_index >= $warmup_steps
    UNION ALL
    SELECT a.pid, a.tid, a.start_ns, a.end_ns, a.dur_ns, a.name, NULL
    FROM allocs a JOIN spans p USING (pid)
    WHERE a.pid NOT IN (SELECT pid FROM steps)
      AND a.start_ns >= p.first_ns + $warmup_frac * (p.last_ns - p.first_ns) AND a.end_ns <= p.last_ns
),
alloc_points AS (
    SELECT DISTINCT hash(pid, tid, start_ns) AS point_id, pid, tid, start_ns AS ts_ns FROM steady WHERE tid IS NOT NULL
),
mix AS (
    SELECT pid, string_agg(name || ' x' || n, ', ' ORDER BY n DESC, name) AS api_mix
    FROM (SELECT pid, name, count(*) AS n FROM steady GROUP BY pid, name) GROUP BY pid
)
SELECT coalesce(l.idle_ns, 0) AS impact_ns, s.dur_ns AS host_ns,
       coalesce(' in ' || nvtx_label(r.name), '') AS culprit, s.start_ns, s.end_ns, s.dur_ns, s.pid, s.tid,
       s.name AS api_name, s.step_index,
       m.api_mix
FROM steady s JOIN mix m USING (pid)
LEFT JOIN (SELECT evidence_pid, evidence_tid, evidence_start_ns, sum(dur_ns) AS idle_ns FROM idle_ledger
           WHERE owner = 'alloc_churn' GROUP BY ALL) l
    ON l.evidence_pid = s.pid AND l.evidence_tid = s.tid AND l.evidence_start_ns = s.start_ns
LEFT JOIN nvtx_ranges_at(alloc_points) h ON h.point_id = hash(s.pid, s.tid, s.start_ns)
LEFT JOIN nvtx_ranges r ON r.range_id = h.innermost_range_id
QUALIFY count(*) OVER (PARTITION BY s.pid) >= $min_calls
