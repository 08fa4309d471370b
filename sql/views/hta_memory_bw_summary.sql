-- hta_memory_bw_summary: per device and memory operation type, statistics of the bandwidth series while some
-- such operation runs (values > 1e-9 GB/s, HTA's "> 0" after float round-off): count, mean, std, min,
-- quartiles, max in GB/s, plus the bytes moved and the busy time of that operation type.
-- Columns: device_id, name, points, mean_gbps, std_gbps, min_gbps, p25_gbps, p50_gbps, p75_gbps, max_gbps,
-- bytes, ops. Requires: hta_memory_bw, hta_gpu_ops. No parameters.
CREATE OR REPLACE VIEW hta_memory_bw_summary AS
WITH s AS (
    SELECT device_id, name, count(*) AS points, avg(memory_bw_gbps) AS mean_gbps,
           coalesce(stddev_samp(memory_bw_gbps), 0) AS std_gbps, min(memory_bw_gbps) AS min_gbps,
           quantile_cont(memory_bw_gbps, 0.25) AS p25_gbps, quantile_cont(memory_bw_gbps, 0.5) AS p50_gbps,
           quantile_cont(memory_bw_gbps, 0.75) AS p75_gbps, max(memory_bw_gbps) AS max_gbps
    FROM hta_memory_bw WHERE memory_bw_gbps > 1e-9 GROUP BY device_id, name
),
t AS (
    SELECT device_id, mem_type AS name, CAST(sum(bytes) AS BIGINT) AS bytes, count(*) AS ops
    FROM hta_gpu_ops WHERE kernel_type = 'MEMORY' GROUP BY device_id, mem_type
)
SELECT s.*, t.bytes, t.ops FROM s JOIN t USING (device_id, name)
