-- report_devices: one line per GPU for the report header: product name, SMs and memory when the trace says,
-- and how much work it ran. Grain: one row per device with work or a device record. No parameters.
CREATE OR REPLACE VIEW report_devices(
    -- GPU id.
    device_id,
    -- Product name, NULL when the export has no device table.
    name,
    -- Streaming multiprocessors.
    sm_count,
    -- Device memory, bytes.
    total_memory_bytes,
    -- Kernel executions.
    kernels,
    -- Summed kernel duration, ns.
    kernel_ns,
    -- Copies.
    memcpys,
    -- Bytes copied.
    memcpy_bytes
) AS
WITH k AS (SELECT device_id, count(*) AS n, CAST(sum(dur_ns) AS BIGINT) AS ns FROM kernels GROUP BY 1),
     m AS (SELECT device_id, count(*) AS n, CAST(sum(bytes) AS BIGINT) AS b FROM memcpy GROUP BY 1),
     ids AS (SELECT device_id FROM k UNION SELECT device_id FROM m UNION SELECT device_id FROM devices)
SELECT i.device_id, any_value(d.name), any_value(d.sm_count), any_value(d.total_memory_bytes),
       coalesce(any_value(k.n), 0), coalesce(any_value(k.ns), 0), coalesce(any_value(m.n), 0),
       coalesce(any_value(m.b), 0)
FROM ids i
LEFT JOIN devices d USING (device_id)
LEFT JOIN k USING (device_id)
LEFT JOIN m USING (device_id)
WHERE i.device_id IS NOT NULL
GROUP BY i.device_id
ORDER BY i.device_id
