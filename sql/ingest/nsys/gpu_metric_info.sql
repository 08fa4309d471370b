-- gpu_metric_info: TARGET_INFO_GPU_METRICS + GPU_METRICS -> model table `gpu_metric_info`, one row per metric
-- sampled on a GPU: its stable id and unit (ingest/gpu_metric_names.py), the name nsys gave it, how many samples,
-- their span and the sampling period (median spacing). Metrics the export names but never sampled are left out.
-- GPU pairing as in gpu_metrics.sql. No parameters.
WITH names AS (
    SELECT typeId, metricId, metricName, metric_id, unit FROM TARGET_INFO_GPU_METRICS
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
stepped AS (
    SELECT CAST(typeId AS BIGINT) AS typeId, CAST(metricId AS BIGINT) AS metricId, CAST("timestamp" AS BIGINT) AS ts,
           lead(CAST("timestamp" AS BIGINT)) OVER (PARTITION BY typeId, metricId ORDER BY "timestamp")
               - CAST("timestamp" AS BIGINT) AS step_ns
    FROM GPU_METRICS
    WHERE "timestamp" IS NOT NULL AND value IS NOT NULL
),
series AS (
    SELECT typeId, metricId, count(*) AS samples, min(ts) AS first_ns, max(ts) AS last_ns,
           coalesce(CAST(approx_quantile(step_ns, 0.5) AS BIGINT), 0) AS period_ns
    FROM stepped GROUP BY typeId, metricId
)
SELECT d.device_id, n.metric_id, n.unit, n.metricName AS source_name, r.samples, r.first_ns, r.last_ns, r.period_ns
FROM series r
JOIN names n USING (typeId, metricId)
JOIN device_of d USING (typeId)
ORDER BY d.device_id, n.metric_id
