-- gpu_metric_info: the series GPU_METRICS holds -> model table `gpu_metric_info`, one row per metric sampled on a
-- GPU: its stable id and unit (ingest/gpu_metric_names.py), the name nsys gave it, how many samples, their span
-- and the sampling period (the median spacing of consecutive samples). GPU_METRIC_SERIES is the per-series count,
-- span and period that ingest/gpu_metric_series.py gathers in one streaming pass over GPU_METRICS;
-- gpu_metric_sources (gpu_metric_sources.sql) pairs each series with its GPU and name. Metrics the export names
-- but never sampled are left out. No parameters.
SELECT s.device_id, s.metric_id, s.unit, s.metricName AS source_name, r.samples, r.first_ns, r.last_ns, r.period_ns
FROM GPU_METRIC_SERIES r
JOIN gpu_metric_sources s USING (typeId, metricId)
ORDER BY s.device_id, s.metric_id
