-- hta_memory_bw: memory bandwidth of copies and memsets over time, per device and memory operation type
-- ('Memcpy HtoD', 'Memcpy DtoH', 'Memcpy DtoD', 'Memset', ...), as HTA's memory bandwidth time series: each
-- operation adds its bandwidth (bytes / duration; GB/s = bytes per ns) while it runs. One row per change; the
-- value holds until the next row. Operations with no bytes or zero duration are left out.
-- Columns: device_id, name, ts_ns, memory_bw_gbps. Requires: hta_gpu_ops. No parameters.
CREATE OR REPLACE VIEW hta_memory_bw AS
WITH ops AS (
    SELECT device_id, mem_type AS name, start_ns, end_ns, bytes / dur_ns AS gbps
    FROM hta_gpu_ops
    WHERE kernel_type = 'MEMORY' AND bytes IS NOT NULL AND dur_ns > 0
),
ev AS (
    SELECT device_id, name, start_ns AS ts_ns, gbps AS delta FROM ops
    UNION ALL
    SELECT device_id, name, end_ns, -gbps FROM ops
)
SELECT device_id, name, ts_ns,
       greatest(sum(delta) OVER (PARTITION BY device_id, name ORDER BY ts_ns, delta ROWS UNBOUNDED PRECEDING), 0)
           AS memory_bw_gbps
FROM ev
