-- rule: device_imbalance
-- title: GPUs or ranks doing unequal work
-- severity: auto
-- group_by: all_devices
-- param min_diff = 0.2: report when the least busy GPU's busy time is below (1 - min_diff) x the busiest one's, or
--   the slowest process's median step time exceeds the fastest's by this fraction
-- impact: for each GPU, how much less busy it was than the busiest GPU: time it idles while the others work (in a
--   synchronous multi-GPU job, the time the others wait for the slowest shows up as their idle time). Busy time here
--   leaves out communication kernels running alone (view comm_kernels; gpu_exposed kind 'comm'): a rank that waits
--   inside a collective for a late one counts as busy while it waits, which would hide the imbalance it suffers.
-- summary: Across the {n} active GPUs (of {listed_devices:int} in the trace) the busy time outside exposed
--   communication ranges from {min_busy_ns:time} to {max_busy_ns:time} ({spread_pct:pct} apart){step_note}; GPU
--   {device_id} is the least busy, {deficit_ns:time} short of the busiest.
-- recommendation: Balance the work: check the data/tensor/pipeline-parallel split (uneven sequence lengths or
--   batches per rank, an uneven pipeline stage split, extra work on rank 0 such as logging or evaluation) and
--   whether all GPUs run the same kernels.
-- why: Multi-GPU inference runs at the pace of the slowest GPU; the others wait for it at every collective.
WITH d AS (
    -- busy time without the communication that ran alone (per device; gpu_exposed has no row without such kernels)
    SELECT s.device_id, s.busy_ns - coalesce(e.exposed_ns, 0) AS busy_ns, s.span_ns, s.pids
    FROM gpu_device_summary s LEFT JOIN gpu_exposed e ON e.device_id = s.device_id AND e.kind = 'comm'
    WHERE s.busy_ns > 0
),
stats AS (
    SELECT count(*) AS devices, max(busy_ns) AS max_busy_ns, min(busy_ns) AS min_busy_ns,
           (SELECT count(*) FROM gpu_device_summary) AS listed_devices
    FROM d
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
       d.device_id, d.busy_ns, d.span_ns, d.pids, f.max_busy_ns, f.min_busy_ns, f.listed_devices,
       (f.max_busy_ns - f.min_busy_ns) * 100.0 / f.max_busy_ns AS spread_pct,
       CASE WHEN f.step_imbalanced
            THEN '; median step time per process ranges from ' || CAST(round(f.fast_ns / 1e6, 2) AS VARCHAR)
                 || ' ms to ' || CAST(round(f.slow_ns / 1e6, 2) AS VARCHAR) || ' ms'
            ELSE '' END AS step_note,
       'all' AS all_devices
FROM d, flag f
WHERE f.busy_imbalanced OR f.step_imbalanced
