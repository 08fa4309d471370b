-- gpu_metrics_by_phase: time-weighted GPU metrics per phase of the workload. A phase is a named inference phase
-- (phase_ranges: prefill, decode) where the trace has them, else an outermost annotation range (depth 0), named
-- by its text: `phase_0`..`phase_5` of a script, `forward`, `train_step`. Ranges of one phase are pooled: the mean
-- is weighted by sampled time over all of them (overlapping ranges of one phase on several threads count their
-- common time once per range).
-- Grain: one row per (phase, device_id, metric_id). Columns: phase, device_id, metric_id, unit, ranges,
-- first_ns, last_ns, range_ns (summed range time), mean_value, covered_ns, samples. No parameters.
CREATE OR REPLACE VIEW gpu_metrics_by_phase AS
WITH named AS (
    SELECT range_id, phase FROM phase_ranges
),
chosen AS (
    SELECT range_id, phase FROM named
    UNION ALL
    SELECT range_id, name AS phase
    FROM nvtx_ranges
    WHERE depth = 0 AND category IS DISTINCT FROM 'gpu_user_annotation' AND name IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM named)
)
SELECT c.phase, m.device_id, m.metric_id, any_value(m.unit) AS unit, count(*) AS ranges,
       min(m.start_ns) AS first_ns, max(m.end_ns) AS last_ns, CAST(sum(m.end_ns - m.start_ns) AS BIGINT) AS range_ns,
       sum(m.mean_value * m.covered_ns) / nullif(sum(m.covered_ns), 0) AS mean_value,
       CAST(sum(m.covered_ns) AS BIGINT) AS covered_ns, CAST(sum(m.samples) AS BIGINT) AS samples
FROM gpu_metrics_by_range m
JOIN chosen c USING (range_id)
GROUP BY c.phase, m.device_id, m.metric_id
