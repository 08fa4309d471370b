-- gpu_metric_integrals: each GPU metric sample with the running integral of its series up to the sample, so that
-- the time-weighted mean of a metric over any window [a, b) takes two ASOF lookups instead of an interval join:
-- with I(t) = cum_value_ns + value * clamp(t - ts_ns, 0, end_ns - ts_ns) of the last sample starting at or
-- before t (0 before the first), and C(t) the same for covered time, the mean is (I(b) - I(a)) / (C(b) - C(a)).
-- Samples are piecewise constant from ts_ns to end_ns (gpu_metrics). sample_index numbers the samples of a series
-- from 0, so the number of samples a window touches is a difference of two indexes.
-- Grain: one row per sample (device_id, metric_id, ts_ns). Columns: device_id, metric_id, ts_ns, end_ns, value,
-- sample_index, cum_value_ns (integral of value dt before ts_ns, value x ns), cum_covered_ns (sampled time before
-- ts_ns). The integrals are computed once when the trace is converted (inferscope/ingest/gpu_metric_series.py): a
-- window over every sample in each analysis cost more time and memory than everything else here. No parameters.
CREATE OR REPLACE VIEW gpu_metric_integrals AS
SELECT device_id, metric_id, ts_ns, end_ns, value, sample_index, cum_value_ns, cum_covered_ns
FROM gpu_metrics
