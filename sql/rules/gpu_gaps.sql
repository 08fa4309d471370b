-- rule: gpu_gaps
-- title: GPU idle gaps longer than a threshold
-- severity: auto
-- group_by: device_id, pid
-- param gap_ns = 500000000: shortest gap reported, in ns (nsys: gap=500 ms; a gap must be strictly longer)
-- parity: nsys analyze gpu-starv (2022.4; gpu_gaps in current nsys), same definition: per process and device,
--   the union of its kernels, memcpys and memsets with start > 0 plus the CUDA profiling overhead rows of the
--   process that lie strictly inside that device's active span; gaps between the first and the last operation
--   longer than the threshold. Difference: no 50-row cap. idle_gap_attribution explains gaps of any length.
-- impact: none (0): each gap's idle time (dur_ns) is owned by the rules of the idle ledger (view idle_ledger:
--   idle_gap_attribution, sync_stall, launch_overhead, ...), which say why; this rule lists the long gaps as nsys
--   does without counting them again.
-- summary: {gpu} ({who}) sat idle in {n} gap{s} longer than {p_gap_ns:time}, {sum_dur_ns:time} in total; the
--   longest was {max_dur_ns:time}.
-- recommendation: Look at what the launching thread did during the longest gaps (CPU samples, OS runtime calls,
--   synchronisation); the idle_gap_attribution finding names the cause per gap. Annotate the host code with NVTX
--   ranges if the gaps are unexplained.
-- why: While the GPU is idle inside the run, the host is not keeping it fed: slow or blocked CPU code, data
--   loading, or synchronisation.
WITH ops AS (  -- rows without a process id keep one key (-1, never a real pid), so the joins below keep them
    SELECT coalesce(pid, -1) AS pid, device_id, context_id, start_ns, end_ns FROM gpu_ops WHERE start_ns > 0
),
span AS (
    SELECT pid, device_id, min(start_ns) AS first_ns, max(end_ns) AS last_ns, min(context_id) AS context_id
    FROM ops GROUP BY pid, device_id
),
overhead AS (
    SELECT o.pid, s.device_id, s.context_id, o.start_ns, o.end_ns
    FROM profiler_overhead o
    JOIN span s ON s.pid = o.pid AND o.start_ns > s.first_ns AND o.end_ns < s.last_ns
    WHERE o.name IN ('CUDA profiling data flush overhead', 'CUDA profiling stop overhead', 'CUDA profiling overhead')
),
busy AS (
    SELECT * FROM ops UNION ALL SELECT * FROM overhead
),
swept AS (
    SELECT pid, device_id, start_ns, end_ns,
           max(end_ns) OVER (PARTITION BY pid, device_id ORDER BY start_ns, end_ns
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS busy_until_ns
    FROM busy
)
SELECT 0 AS impact_ns, w.busy_until_ns AS start_ns, w.start_ns AS end_ns,
       w.start_ns - w.busy_until_ns AS dur_ns, nullif(w.pid, -1) AS pid, w.device_id, s.context_id,
       CASE WHEN w.pid = -1 THEN 'operations without a process id' ELSE 'pid ' || w.pid END AS who
FROM swept w
JOIN span s USING (pid, device_id)
WHERE w.start_ns - w.busy_until_ns > $gap_ns
