-- memory_peak: the highest GPU memory allocated on each device, when it was first reached, and where the program
-- was then: the innermost InferScope annotation (scope name, e.g. prefill/decode) and the innermost NVTX range
-- open at that moment on the allocating thread (any thread of the process when the thread is unknown), and
-- the peak as a share of the device's memory when the trace says how much it has. Grain: one row per device.
-- No parameters.
CREATE OR REPLACE VIEW memory_peak(
    -- GPU id.
    device_id,
    -- highest device_allocated_bytes, bytes.
    peak_bytes,
    -- first time it was reached, ns.
    peak_ns,
    -- process and thread of the event that reached it.
    pid, tid,
    -- innermost annotation scope (inferscope.scope name) open then, and its range_id.
    phase, phase_range_id,
    -- innermost NVTX range of any domain open then (text), and its range_id.
    nvtx_range, nvtx_range_id,
    -- device memory (devices.total_memory_bytes), bytes; NULL when unknown.
    total_memory_bytes,
    -- peak_bytes as % of total_memory_bytes.
    peak_pct
) AS
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY device_id ORDER BY device_allocated_bytes DESC, seq) AS rk
    FROM memory_timeline
),
peak AS (SELECT * FROM ranked WHERE rk = 1),
open_ranges AS (
    SELECT p.device_id, r.range_id, r.name, r.domain, r.depth, r.start_ns
    FROM peak p
    JOIN nvtx_ranges r
      ON r.pid = p.pid AND (p.tid IS NULL OR r.tid = p.tid)
     AND r.start_ns <= p.ts_ns AND r.end_ns > p.ts_ns
),
nvtx_pick AS (
    SELECT device_id, arg_max(name, (depth, start_ns)) AS name, arg_max(range_id, (depth, start_ns)) AS range_id
    FROM open_ranges GROUP BY device_id
),
phase_pick AS (
    SELECT o.device_id, arg_max(a.name, (o.depth, o.start_ns)) AS name,
           arg_max(o.range_id, (o.depth, o.start_ns)) AS range_id
    FROM open_ranges o JOIN annotation_ranges a USING (range_id)
    GROUP BY o.device_id
)
SELECT p.device_id, p.device_allocated_bytes, p.ts_ns, p.pid, p.tid,
       ph.name, ph.range_id, n.name, n.range_id,
       d.total_memory_bytes,
       100.0 * p.device_allocated_bytes / nullif(d.total_memory_bytes, 0)
FROM peak p
LEFT JOIN phase_pick ph USING (device_id)
LEFT JOIN nvtx_pick n USING (device_id)
LEFT JOIN (SELECT device_id, max(total_memory_bytes) AS total_memory_bytes FROM devices GROUP BY 1) d USING (device_id)
