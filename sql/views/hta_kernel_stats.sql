-- hta_kernel_stats: per device, kernel type and name, the count and duration statistics HTA's kernel breakdown
-- shows for its top kernels (HTA folds the tail into "others"; here every name is kept, the caller ranks).
-- std_ns is the sample standard deviation (0 for a single operation), as pandas computes it.
-- Columns: device_id, kernel_type, name, count, sum_ns, min_ns, max_ns, mean_ns, std_ns.
-- Requires: hta_gpu_ops. No parameters.
CREATE OR REPLACE VIEW hta_kernel_stats AS
SELECT device_id, kernel_type, name, count(*) AS count, CAST(sum(dur_ns) AS BIGINT) AS sum_ns, min(dur_ns) AS min_ns,
       max(dur_ns) AS max_ns, avg(dur_ns) AS mean_ns, coalesce(stddev_samp(dur_ns), 0) AS std_ns
FROM hta_gpu_ops
GROUP BY device_id, kernel_type, name
