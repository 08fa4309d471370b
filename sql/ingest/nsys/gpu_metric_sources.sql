-- gpu_metric_sources: TARGET_INFO_GPU_METRICS + TARGET_INFO_GPU -> one row per metric a metric source records:
-- typeId, metricId (the raw keys of GPU_METRICS), the GPU it samples (device_id), the metric's stable id and unit
-- (ingest/gpu_metric_names.py, as metric_id and metric_id__sid) and the name nsys gave it (metricName).
-- Not a model table: ingest/nsys.py creates it as a view for gpu_metric_info.sql and reads it to stream the
-- samples (ingest/gpu_metric_series.py), so the pairing of sources with GPUs is stated once.
-- Which GPU a source samples: nsys gives each GPU its own metric source (typeId) and does not name the GPU in a
-- column every version fills; when the export has as many sources as TARGET_INFO_GPU rows they are paired in id
-- order (one GPU, one source in every export seen), otherwise the source's rank is the device id.
-- No parameters.
WITH names AS (
    SELECT typeId, metricId, metricName, metric_id, metric_id__sid, unit FROM TARGET_INFO_GPU_METRICS
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
)
SELECT n.typeId, n.metricId, d.device_id, n.metric_id, n.metric_id__sid, n.unit, n.metricName
FROM names n
JOIN device_of d USING (typeId)
