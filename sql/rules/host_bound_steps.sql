-- rule: host_bound_steps
-- title: Steps where the host, not the GPU, sets the pace
-- severity: auto
-- group_by: pid
-- param max_busy_pct = 50: a step is host-bound when its process's GPUs were busy less than this share of its wall
--   time ...
-- param max_sync_frac = 0.5: ... and less than this fraction of its GPU-idle time is attributed to host waits
--   (steps.sync_idle_ns; otherwise sync_stall is the finding)
-- param min_step_frac = 0.2: report a process when at least this fraction of its steps are host-bound
-- impact: for each host-bound step, wall time minus GPU busy time: the part of the step in which the GPU waited.
-- summary: {n} of {step_count:int} steps of process {pid} were host-bound: the GPU was busy a median
--   {median_busy_pct:pct} of the step (threshold {p_max_busy_pct}%), {impact:time} of step time passed with the GPU
--   idle; the costliest was {name} ({dur_ns:time}, GPU busy {gpu_busy_ns:time}).
-- recommendation: Shorten the CPU side of each step: batch more work per step, move Python and data preparation
--   out of the loop or onto other threads, prepare step N+1 while the GPU runs step N (asynchronous scheduling),
--   and cut launch counts with CUDA graphs or torch.compile. The idle_gap_attribution finding says whether launch
--   overhead or other CPU work dominates.
-- why: A step whose range lasts far longer than its GPU work is paced by the CPU; a faster GPU would not help it.
WITH flagged AS (
    SELECT s.*
    FROM steps s
    WHERE s.gpu_busy_pct < $max_busy_pct AND s.sync_idle_ns < $max_sync_frac * (s.dur_ns - s.gpu_busy_ns)
      AND s.pid IN (SELECT pid FROM gpu_ops)  -- a process with no GPU work at all is not held back by its host
),
per_pid AS (
    SELECT f.pid, count(*) AS n, quantile_cont(f.gpu_busy_pct, 0.5) AS median_busy_pct FROM flagged f GROUP BY f.pid
)
SELECT f.dur_ns - f.gpu_busy_ns AS impact_ns, f.start_ns, f.end_ns, f.dur_ns, f.gpu_busy_ns, f.gpu_busy_pct,
       f.sync_ns, f.kernel_count, f.launch_count, f.pid, f.tid, f.name, f.step_id, f.phase, ss.step_count,
       p.median_busy_pct
FROM flagged f
JOIN per_pid p USING (pid)
JOIN step_summary ss USING (pid)
WHERE p.n >= greatest(1, $min_step_frac * ss.step_count)
