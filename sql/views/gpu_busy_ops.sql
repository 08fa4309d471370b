-- gpu_busy_ops: each GPU operation once per busy kind it counts towards (view gpu_busy): 'all', its op_class
-- ('compute' or 'copy'), and on devices that ran communication kernels 'comm' or 'noncomm' for kernels.
-- Grain: one row per (operation, kind). Columns: device_id, kind, start_ns, end_ns. No parameters.
CREATE OR REPLACE VIEW gpu_busy_ops AS
SELECT device_id, 'all' AS kind, start_ns, end_ns FROM gpu_ops
UNION ALL
SELECT device_id, op_class, start_ns, end_ns FROM gpu_ops
UNION ALL
SELECT device_id, CASE WHEN is_comm THEN 'comm' ELSE 'noncomm' END, start_ns, end_ns
FROM gpu_ops
WHERE op_class = 'compute' AND device_id IN (SELECT device_id FROM gpu_ops WHERE is_comm)
