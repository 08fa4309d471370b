-- gpu_metrics_during(intervals): time-weighted GPU metrics over given time windows. `intervals` names a table,
-- view or CTE with columns interval_id, device_id, start_ns, end_ns, and any others, which are passed through
-- (so callers need not join back); a NULL device_id means every GPU that has metrics (host-side windows such as
-- NVTX ranges and steps). Table macro, so each caller pays only for its own windows, and no interval join.
-- A sample holds from its timestamp to the next (piecewise constant), so mean_value is the exact time-weighted
-- mean over the sampled part of the window. A window shorter than the sampling period (a 20 us kernel under a
-- 100 us sampler) gets the value of the sample(s) enclosing it, which also cover whatever else ran then:
-- below_period says so, and samples is the number of samples the window touches. An empty window (end_ns <=
-- start_ns) gets NULL mean_value and coverage.
-- How: the mean is a difference of the series' running integrals (gpu_metric_integrals) at the window's two
-- edges, each read from the last sample at or before the edge (ts_ns <= start_ns, ts_ns < end_ns = ts_ns <=
-- end_ns - 1). That sample is found without buffering the series, so an hour of 8 GPUs at 10 kHz streams: the
-- edges are bucketed by the series' sampling period and the samples stream through a hash join built on them,
-- each sample probing its own bucket and the next (a regular series always has the answer there); the few edges
-- left (before the first sample, in a sampler pause) look in their coarse bucket (1024 periods) and, failing
-- that, ASOF-join a per-coarse-bucket summary (one row per 1024 samples). An ASOF join straight into the samples
-- buffered and sorted all of them, about 250 bytes a sample (docs/performance.md). Exact either way: the sample
-- found is the same, and so are the sums taken from it.
-- Grain: one row per (interval_id, device_id, metric_id) with metrics on that device. Columns: the interval's
-- own, then device_id (the metric's GPU), metric_id, unit, mean_value, covered_ns (sampled time inside the window),
-- coverage (covered_ns / window length, 0-1), samples, period_ns, below_period. No parameters.
CREATE OR REPLACE MACRO gpu_metrics_during(intervals) AS TABLE
-- each metric series listed under its own device and under NULL (the windows of every GPU): the windows are read
-- once, by one equi-join built on the series, so a trace without metrics never reads them (a million NVTX ranges
-- had been buffered for the two branches of a UNION first)
WITH targets AS (
    SELECT device_id AS target, device_id, metric_id, unit, period_ns FROM gpu_metric_info
    UNION ALL
    SELECT NULL, device_id, metric_id, unit, period_ns FROM gpu_metric_info
),
iv AS (
    SELECT i.* EXCLUDE (device_id), m.device_id, m.metric_id, m.unit, m.period_ns
    FROM query_table(intervals) i
    JOIN targets m ON m.target IS NOT DISTINCT FROM i.device_id
),
series AS (
    -- bucket widths per series: any positive width is exact, the period keeps each edge's candidates to one or two
    SELECT device_id, metric_id, greatest(period_ns, 1) AS fine_ns, 1024 * greatest(period_ns, 1) AS coarse_ns
    FROM gpu_metric_info
),
points AS (
    -- each lookup once: the last sample with ts_ns <= q
    SELECT DISTINCT p.device_id, p.metric_id, p.q, p.q // s.fine_ns AS k, p.q // s.coarse_ns AS kc
    FROM (
        SELECT device_id, metric_id, start_ns AS q FROM iv
        UNION ALL
        SELECT device_id, metric_id, end_ns - 1 AS q FROM iv
    ) p
    JOIN series s USING (device_id, metric_id)
    WHERE p.q IS NOT NULL
),
samples AS NOT MATERIALIZED (
    SELECT g.device_id, g.metric_id, s.fine_ns, s.coarse_ns,
           {'ts_ns': g.ts_ns, 'end_ns': g.end_ns, 'value': g.value, 'sample_index': g.sample_index,
            'cum_value_ns': g.cum_value_ns, 'cum_covered_ns': g.cum_covered_ns} AS smp
    FROM gpu_metric_integrals g
    JOIN series s USING (device_id, metric_id)
),
near AS (
    -- each sample probes the bucket it starts in and the next one
    SELECT p.device_id, p.metric_id, p.q, arg_max(x.smp, x.smp.ts_ns) AS smp
    FROM (SELECT device_id, metric_id, smp, unnest([smp.ts_ns // fine_ns, smp.ts_ns // fine_ns + 1]) AS k
          FROM samples) x
    JOIN points p ON p.device_id = x.device_id AND p.metric_id = x.metric_id AND p.k = x.k AND x.smp.ts_ns <= p.q
    GROUP BY p.device_id, p.metric_id, p.q
),
far_points AS (
    SELECT p.* FROM points p ANTI JOIN near n USING (device_id, metric_id, q)
),
same_coarse AS (
    SELECT p.device_id, p.metric_id, p.q, arg_max(x.smp, x.smp.ts_ns) AS smp
    FROM samples x
    JOIN far_points p
      ON p.device_id = x.device_id AND p.metric_id = x.metric_id AND p.kc = x.smp.ts_ns // x.coarse_ns
     AND x.smp.ts_ns <= p.q
    GROUP BY p.device_id, p.metric_id, p.q
),
coarse AS (
    -- the last sample of each coarse bucket, for edges whose own coarse bucket has none at or before them
    SELECT device_id, metric_id, smp.ts_ns // coarse_ns AS kc, arg_max(smp, smp.ts_ns) AS smp
    FROM samples
    WHERE (device_id, metric_id) IN (SELECT (device_id, metric_id) FROM far_points)
    GROUP BY device_id, metric_id, smp.ts_ns // coarse_ns
),
far AS (
    SELECT f.device_id, f.metric_id, f.q, coalesce(s.smp, c.smp) AS smp
    FROM far_points f
    LEFT JOIN same_coarse s USING (device_id, metric_id, q)
    ASOF LEFT JOIN coarse c ON c.device_id = f.device_id AND c.metric_id = f.metric_id AND c.kc < f.kc
),
found AS (
    SELECT device_id, metric_id, q, smp FROM near
    UNION ALL
    SELECT device_id, metric_id, q, smp FROM far
),
both_edges AS (
    SELECT iv.*,
           a.smp.sample_index AS a_index, a.smp.end_ns > iv.start_ns AS a_overlaps,
           coalesce(a.smp.cum_value_ns + a.smp.value * greatest(least(iv.start_ns, a.smp.end_ns) - a.smp.ts_ns, 0), 0)
               AS a_value,
           coalesce(a.smp.cum_covered_ns + greatest(least(iv.start_ns, a.smp.end_ns) - a.smp.ts_ns, 0), 0)
               AS a_covered,
           b.smp.sample_index AS b_index,
           coalesce(b.smp.cum_value_ns + b.smp.value * greatest(least(iv.end_ns, b.smp.end_ns) - b.smp.ts_ns, 0), 0)
               AS b_value,
           coalesce(b.smp.cum_covered_ns + greatest(least(iv.end_ns, b.smp.end_ns) - b.smp.ts_ns, 0), 0)
               AS b_covered
    FROM iv
    LEFT JOIN found a ON a.device_id = iv.device_id AND a.metric_id = iv.metric_id AND a.q = iv.start_ns
    LEFT JOIN found b ON b.device_id = iv.device_id AND b.metric_id = iv.metric_id AND b.q = iv.end_ns - 1
)
SELECT * EXCLUDE (period_ns, a_index, a_overlaps, a_value, a_covered, b_index, b_value, b_covered),
       (b_value - a_value) / nullif(b_covered - a_covered, 0) AS mean_value,
       b_covered - a_covered AS covered_ns,
       (b_covered - a_covered) / nullif(end_ns - start_ns, 0) AS coverage,
       coalesce(b_index, -1) - coalesce(a_index, -1) + CASE WHEN a_overlaps THEN 1 ELSE 0 END AS samples,
       period_ns,
       end_ns - start_ns < period_ns AS below_period
FROM both_edges
