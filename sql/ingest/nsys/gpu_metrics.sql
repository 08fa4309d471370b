-- gpu_metrics: GPU_METRICS (nsys --gpu-metrics-devices) -> model table `gpu_metrics`, one row per sample of one
-- metric on one GPU. TARGET_INFO_GPU_METRICS arrives with each metric's stable id and unit (ingest/nsys.py,
-- gpu_metric_names.py). A sample holds from its timestamp to the next sample of the same source and metric
-- (end_ns); where the sampler paused (a hole over 4 sampling periods) or after the last sample, it holds for one
-- period (the median spacing of that series), so a pause never stretches one reading over seconds.
-- Which GPU a source samples: nsys gives each GPU its own metric source (typeId) and does not name the GPU in a
-- column every version fills; when the export has as many sources as TARGET_INFO_GPU rows they are paired in id
-- order (one GPU, one source in every export seen), otherwise the source's rank is the device id.
-- Clocks: nsys 2025.3 writes `[MHz]` metrics in Hz (1980063750 on a 1980 MHz H200); a series whose largest value
-- exceeds 100000 (100 GHz, beyond any GPU clock) is divided by 1e6. Each sample also carries its series' running
-- integrals (sample_index, cum_value_ns, cum_covered_ns; see sql/views/gpu_metric_integrals.sql). No parameters.
WITH names AS (
    SELECT typeId, metricId, metric_id__sid, unit FROM TARGET_INFO_GPU_METRICS
),
sources AS (
    SELECT typeId, row_number() OVER (ORDER BY typeId) - 1 AS k, count(*) OVER () AS n
    FROM (SELECT DISTINCT typeId FROM names)
),
gpus AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n
    FROM (SELECT DISTINCT CAST(id AS BIGINT) AS id FROM TARGET_INFO_GPU WHERE id IS NOT NULL)
),
device_of AS (
    SELECT s.typeId, CASE WHEN s.n = g.n THEN g.id ELSE s.k END AS device_id
    FROM sources s LEFT JOIN gpus g ON g.k = s.k
),
samples AS (
    SELECT CAST(g.typeId AS BIGINT) AS typeId, CAST(g.metricId AS BIGINT) AS metricId,
           CAST(g."timestamp" AS BIGINT) AS ts_ns, CAST(g.value AS DOUBLE) AS value
    FROM GPU_METRICS g
    WHERE g."timestamp" IS NOT NULL AND g.value IS NOT NULL
),
stepped AS (
    SELECT *, lead(ts_ns) OVER (PARTITION BY typeId, metricId ORDER BY ts_ns) - ts_ns AS step_ns FROM samples
),
series AS (
    SELECT typeId, metricId, coalesce(CAST(approx_quantile(step_ns, 0.5) AS BIGINT), 0) AS period_ns,
           max(value) AS max_value
    FROM stepped GROUP BY typeId, metricId
),
held AS (
    SELECT
        s.ts_ns,
        s.ts_ns + CASE WHEN s.step_ns IS NULL OR s.step_ns > 4 * r.period_ns THEN r.period_ns ELSE s.step_ns END
            AS end_ns,
        d.device_id,
        n.metric_id__sid,
        CASE WHEN n.unit = 'MHz' AND r.max_value > 100000 THEN s.value / 1e6 ELSE s.value END AS value
    FROM stepped s
    JOIN names n USING (typeId, metricId)
    JOIN series r USING (typeId, metricId)
    JOIN device_of d USING (typeId)
)
-- the running integrals of each series, computed once here rather than in every analysis (gpu_metric_integrals)
SELECT ts_ns, end_ns, device_id, metric_id__sid, value,
       row_number() OVER w - 1 AS sample_index,
       coalesce(sum(value * (end_ns - ts_ns)) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS cum_value_ns,
       CAST(coalesce(sum(end_ns - ts_ns) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT)
           AS cum_covered_ns
FROM held
WINDOW w AS (PARTITION BY device_id, metric_id__sid ORDER BY ts_ns)
ORDER BY device_id, metric_id__sid, ts_ns
