-- gpu_idle_gaps: idle time per device between its first and last GPU operation: the holes between consecutive
-- gpu_busy intervals of kind 'all'. Idle time before the first or after the last operation is not a gap.
-- Each gap carries the operation that ended it (next_op_*) and the call that launched that operation, which is
-- what idle-gap attribution looks at: pid/tid are the launching process and thread of the next operation (its
-- name is gpu_ops.label of next_op_id; not repeated here, as there can be a million gaps).
-- Columns: gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, next_op_id, next_op_kind, next_api_name,
-- next_api_start_ns, next_api_end_ns. No parameters.
CREATE OR REPLACE VIEW gpu_idle_gaps AS
WITH busy AS (
    SELECT device_id, start_ns, end_ns FROM gpu_busy WHERE kind = 'all'
),
holes AS (
    SELECT device_id, end_ns AS start_ns,
           lead(start_ns) OVER (PARTITION BY device_id ORDER BY start_ns) AS end_ns
    FROM busy
),
gaps AS (
    SELECT row_number() OVER (ORDER BY start_ns, device_id) AS gap_id, device_id, start_ns, end_ns,
           end_ns - start_ns AS dur_ns
    FROM holes
    WHERE end_ns IS NOT NULL
)
SELECT g.gap_id, g.device_id, g.start_ns, g.end_ns, g.dur_ns,
       n.pid, n.api_tid AS tid, n.op_id AS next_op_id, n.op_kind AS next_op_kind,
       n.api_name AS next_api_name, n.api_start_ns AS next_api_start_ns, n.api_end_ns AS next_api_end_ns
FROM gaps g
ASOF LEFT JOIN cuda_launches n ON n.device_id = g.device_id AND n.kernel_start_ns >= g.end_ns
