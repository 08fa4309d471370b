-- rule: device_imbalance
-- title: GPUs or ranks doing unequal work
-- severity: auto
-- group_by: all_devices
-- param min_diff = 0.2: report when the least busy GPU's busy time is below (1 - min_diff) x the busiest one's, or
--   the slowest process's median step time exceeds the fastest's by this fraction
-- impact: for each GPU, how much less busy it was than the busiest GPU: time it idles while the others work (in a
--   synchronous multi-GPU job, the time the others wait for the slowest shows up as their idle time).
-- summary: Across {n} GPUs the busy time ranges from {min_busy_ns:time} to {max_busy_ns:time}
--   ({spread_pct:pct} apart){step_note}; GPU {device_id} is the least busy, {deficit_ns:time} short of the busiest.
-- recommendation: Balance the work: check the data/tensor/pipeline-parallel split (uneven sequence lengths or
--   batches per rank, an uneven pipeline stage split, extra work on rank 0 such as logging or evaluation) and
--   whether all GPUs run the same kernels.
-- why: Multi-GPU inference runs at the pace of the slowest GPU; the others wait for it at every collective.
WITH d AS (
    SELECT device_id, busy_ns, span_ns, pids FROM gpu_device_summary WHERE busy_ns > 0
),
stats AS (
    SELECT count(*) AS devices, max(busy_ns) AS max_busy_ns, min(busy_ns) AS min_busy_ns FROM d
),
ranks AS (
    SELECT count(*) AS procs, max(p50_ns) AS slow_ns, min(p50_ns) AS fast_ns FROM step_summary
),
flag AS (
    SELECT s.*, r.procs, r.slow_ns, r.fast_ns,
           s.devices >= 2 AND s.min_busy_ns < (1 - $min_diff) * s.max_busy_ns AS busy_imbalanced,
           coalesce(r.procs >= 2 AND r.slow_ns > (1 + $min_diff) * r.fast_ns, false) AS step_imbalanced
    FROM stats s, ranks r
)
SELECT f.max_busy_ns - d.busy_ns AS impact_ns, f.max_busy_ns - d.busy_ns AS deficit_ns,
       d.device_id, d.busy_ns, d.span_ns, d.pids, f.max_busy_ns, f.min_busy_ns,
       (f.max_busy_ns - f.min_busy_ns) * 100.0 / f.max_busy_ns AS spread_pct,
       CASE WHEN f.step_imbalanced
            THEN '; median step time per process ranges from ' || CAST(round(f.fast_ns / 1e6, 2) AS VARCHAR)
                 || ' ms to ' || CAST(round(f.slow_ns / 1e6, 2) AS VARCHAR) || ' ms'
            ELSE '' END AS step_note,
       'all' AS all_devices
FROM d, flag f
WHERE f.busy_imbalanced OR f.step_imbalanced
