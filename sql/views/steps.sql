-- steps: one row per iteration (step_ranges), with what happened in it.
-- * wall: dur_ns of the step range. phase: the phase range (phase_ranges) of the same process overlapping the step
--   most (the step itself when it is named prefill/decode), else NULL.
-- * GPU work is assigned to the step during which it was launched (API call start; GPU start when no call was
--   recorded) by the same process, except work launched before the trace began (no recorded call, no CUDA graph,
--   a correlation id below all of the process's recorded calls): kernel_count, kernel_time_ns (sum of kernel durations), memcpy_count,
--   memcpy_bytes, launch_count (API calls that launched GPU work; one cudaGraphLaunch counts once).
-- * gpu_busy_ns: time inside the step window in which any GPU operation of the process ran (interval union across
--   its devices, via the running totals of gpu_busy_by_pid); gpu_busy_pct = gpu_busy_ns / dur_ns * 100.
-- * sync_ns: host time in waits (sync_calls) of the process that started inside the step.
-- * sync_idle_ns: GPU idle time of the process's devices, in gaps that began inside the step, that
--   gpu_idle_causes attributes to host waits (cause 'sync').
-- Columns: step_id, pid, tid, step_index (0-based per process), name, phase, start_ns, end_ns, dur_ns,
-- kernel_count, kernel_time_ns, memcpy_count, memcpy_bytes, launch_count, gpu_busy_ns, gpu_busy_pct, sync_ns,
-- sync_idle_ns.
-- No parameters.
CREATE OR REPLACE VIEW steps AS
WITH s AS (
    SELECT row_number() OVER (ORDER BY start_ns, pid, range_id) AS step_id,
           row_number() OVER (PARTITION BY pid ORDER BY start_ns, range_id) - 1 AS step_index, *
    FROM step_ranges
),
phase_candidates AS (
    -- a phase range that starts inside the step ...
    SELECT s.step_id, pr.phase, least(pr.end_ns, s.end_ns) - pr.start_ns AS overlap_ns
    FROM phase_ranges pr
    ASOF JOIN s ON s.pid = pr.pid AND s.start_ns <= pr.start_ns
    WHERE pr.start_ns < s.end_ns
    UNION ALL
    -- ... or one that was already open when the step began
    SELECT s.step_id, pr.phase, least(pr.end_ns, s.end_ns) - s.start_ns
    FROM s
    ASOF JOIN phase_ranges pr ON pr.pid = s.pid AND pr.start_ns <= s.start_ns
    WHERE pr.end_ns > s.start_ns
),
phases AS (
    SELECT step_id, arg_max(phase, overlap_ns) AS phase FROM phase_candidates GROUP BY step_id
),
work AS (
    SELECT s.step_id,
           count(*) FILTER (WHERE l.op_kind = 'kernel') AS kernel_count,
           CAST(coalesce(sum(l.kernel_dur_ns) FILTER (WHERE l.op_kind = 'kernel'), 0) AS BIGINT) AS kernel_time_ns,
           count(*) FILTER (WHERE l.op_kind = 'memcpy') AS memcpy_count,
           CAST(coalesce(sum(l.bytes) FILTER (WHERE l.op_kind = 'memcpy'), 0) AS BIGINT) AS memcpy_bytes,
           count(DISTINCT l.correlation_id) FILTER (WHERE l.api_name IS NOT NULL) AS launch_count
    FROM cuda_launches l
    ASOF JOIN s ON s.pid = l.pid AND s.start_ns <= l.launch_ns
    WHERE l.launch_ns < s.end_ns
      -- work launched before the trace began (no launch call recorded, not a graph node, and a correlation id
      -- below every call the process made in the trace) belongs to no step of it
      AND NOT (l.api_name IS NULL AND l.graph_id IS NULL
               AND l.correlation_id < (SELECT min(a.correlation_id) FROM api_calls a WHERE a.pid = l.pid))
    GROUP BY s.step_id
),
busy_at AS (
    SELECT s.step_id,
           coalesce(b0.cum_before_ns + least(greatest(s.start_ns - b0.start_ns, 0), b0.dur_ns), 0) AS b_start,
           coalesce(b1.cum_before_ns + least(greatest(s.end_ns - b1.start_ns, 0), b1.dur_ns), 0) AS b_end
    FROM s
    ASOF LEFT JOIN gpu_busy_by_pid b0 ON b0.pid = s.pid AND b0.start_ns <= s.start_ns
    ASOF LEFT JOIN gpu_busy_by_pid b1 ON b1.pid = s.pid AND b1.start_ns <= s.end_ns
),
waits AS (
    SELECT s.step_id, CAST(sum(least(y.end_ns, s.end_ns) - y.start_ns) AS BIGINT) AS sync_ns
    FROM sync_calls y
    ASOF JOIN s ON s.pid = y.pid AND s.start_ns <= y.start_ns
    WHERE y.start_ns < s.end_ns
    GROUP BY s.step_id
),
sync_idle AS (
    SELECT s.step_id, CAST(sum(least(g.end_ns, s.end_ns) - g.start_ns) AS BIGINT) AS sync_idle_ns
    FROM gpu_idle_causes g
    ASOF JOIN s ON s.pid = g.pid AND s.start_ns <= g.start_ns
    WHERE g.start_ns < s.end_ns AND g.cause = 'sync'
    GROUP BY s.step_id
)
SELECT s.step_id, s.pid, s.tid, s.step_index, s.name, ph.phase,
       s.start_ns, s.end_ns, s.dur_ns,
       coalesce(w.kernel_count, 0) AS kernel_count, coalesce(w.kernel_time_ns, 0) AS kernel_time_ns,
       coalesce(w.memcpy_count, 0) AS memcpy_count, coalesce(w.memcpy_bytes, 0) AS memcpy_bytes,
       coalesce(w.launch_count, 0) AS launch_count,
       b.b_end - b.b_start AS gpu_busy_ns,
       (b.b_end - b.b_start) * 100.0 / s.dur_ns AS gpu_busy_pct,
       coalesce(y.sync_ns, 0) AS sync_ns, coalesce(z.sync_idle_ns, 0) AS sync_idle_ns
FROM s
LEFT JOIN phases ph USING (step_id)
LEFT JOIN work w USING (step_id)
LEFT JOIN busy_at b USING (step_id)
LEFT JOIN waits y USING (step_id)
LEFT JOIN sync_idle z USING (step_id)
ORDER BY s.step_id
