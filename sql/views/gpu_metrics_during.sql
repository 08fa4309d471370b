-- gpu_metrics_during(intervals): time-weighted GPU metrics over given time windows. `intervals` names a table,
-- view or CTE with columns interval_id, device_id, start_ns, end_ns, and any others, which are passed through
-- (so callers need not join back); a NULL device_id means every GPU that has metrics (host-side windows such as
-- NVTX ranges and steps). Table macro, so each caller pays only for its own
-- windows, and no interval join: two ASOF lookups into gpu_metric_integrals per window and metric.
-- A sample holds from its timestamp to the next (piecewise constant), so mean_value is the exact time-weighted
-- mean over the sampled part of the window. A window shorter than the sampling period (a 20 us kernel under a
-- 100 us sampler) gets the value of the sample(s) enclosing it, which also cover whatever else ran then:
-- below_period says so, and samples is the number of samples the window touches. An empty window (end_ns <=
-- start_ns) gets NULL mean_value and coverage.
-- Grain: one row per (interval_id, device_id, metric_id) with metrics on that device. Columns: the interval's
-- own, then device_id (the metric's GPU), metric_id, unit, mean_value, covered_ns (sampled time inside the window),
-- coverage (covered_ns / window length, 0-1), samples, period_ns, below_period. No parameters.
CREATE OR REPLACE MACRO gpu_metrics_during(intervals) AS TABLE
WITH iv AS (
    -- two joins, not one ON a OR b, and no filter on the windows' own times: with either, DuckDB 1.x plans the
    -- ASOF joins below so that they cost seconds per million samples instead of a fraction of one
    SELECT i.* EXCLUDE (device_id), m.device_id, m.metric_id, m.unit, m.period_ns
    FROM query_table(intervals) i
    JOIN gpu_metric_info m ON m.device_id = i.device_id
    UNION ALL
    SELECT i.* EXCLUDE (device_id), m.device_id, m.metric_id, m.unit, m.period_ns
    FROM query_table(intervals) i
    CROSS JOIN gpu_metric_info m
    WHERE i.device_id IS NULL
),
edges AS (
    SELECT iv.*,
           a.sample_index AS a_index, a.end_ns > iv.start_ns AS a_overlaps,
           coalesce(a.cum_value_ns + a.value * greatest(least(iv.start_ns, a.end_ns) - a.ts_ns, 0), 0) AS a_value,
           coalesce(a.cum_covered_ns + greatest(least(iv.start_ns, a.end_ns) - a.ts_ns, 0), 0) AS a_covered
    FROM iv
    ASOF LEFT JOIN gpu_metric_integrals a
      ON a.device_id = iv.device_id AND a.metric_id = iv.metric_id AND a.ts_ns <= iv.start_ns
),
both_edges AS (
    SELECT e.*,
           b.sample_index AS b_index,
           coalesce(b.cum_value_ns + b.value * greatest(least(e.end_ns, b.end_ns) - b.ts_ns, 0), 0) AS b_value,
           coalesce(b.cum_covered_ns + greatest(least(e.end_ns, b.end_ns) - b.ts_ns, 0), 0) AS b_covered
    FROM edges e
    ASOF LEFT JOIN gpu_metric_integrals b
      ON b.device_id = e.device_id AND b.metric_id = e.metric_id AND b.ts_ns < e.end_ns
)
SELECT * EXCLUDE (period_ns, a_index, a_overlaps, a_value, a_covered, b_index, b_value, b_covered),
       (b_value - a_value) / nullif(b_covered - a_covered, 0) AS mean_value,
       b_covered - a_covered AS covered_ns,
       (b_covered - a_covered) / nullif(end_ns - start_ns, 0) AS coverage,
       coalesce(b_index, -1) - coalesce(a_index, -1) + CASE WHEN a_overlaps THEN 1 ELSE 0 END AS samples,
       period_ns,
       end_ns - start_ns < period_ns AS below_period
FROM both_edges
