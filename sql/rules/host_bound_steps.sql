-- rule: host_bound_steps
-- title: Steps where the host, not the GPU, sets the pace
-- severity: auto
-- steady_state: true
-- group_by: pid
-- param max_busy_pct = 50: a step is host-bound when its process's GPUs were busy less than this share of its wall
--   time ...
-- param max_sync_frac = 0.5: ... and less than this fraction of its GPU-idle time is attributed to host waits
--   (steps.sync_idle_ns; otherwise sync_stall is the finding)
-- param min_step_frac = 0.2: report a process when at least this fraction of its steps are host-bound
-- impact: none (0): the GPU-idle part of each host-bound step (idle_ns: wall time minus GPU busy time) is owned,
--   gap by gap, by the rules of the idle ledger (view idle_ledger: launch_overhead, idle_gap_attribution,
--   python_gpu_idle, ...), which name the cause; this finding says that the steps are host-bound without counting
--   that time again.
-- summary: {n} of {step_count:int} steps of process {pid} were host-bound: the GPU was busy a median
--   {median_busy_pct:pct} of the step (threshold {p_max_busy_pct}%), {sum_idle_ns:time} of step time passed with
--   the GPU idle; the costliest was {name} ({dur_ns:time}, GPU busy {gpu_busy_ns:time}).
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
SELECT 0 AS impact_ns, f.dur_ns - f.gpu_busy_ns AS idle_ns, f.start_ns, f.end_ns, f.dur_ns, f.gpu_busy_ns,
       f.gpu_busy_pct,
       f.sync_ns, f.kernel_count, f.launch_count, f.pid, f.tid, f.name, f.step_id, f.phase, ss.step_count,
       p.median_busy_pct
FROM flagged f
JOIN per_pid p USING (pid)
JOIN step_summary ss USING (pid)
WHERE p.n >= greatest(1, $min_step_frac * ss.step_count)
