-- gpu_op_nvtx: each GPU operation with the annotation ranges open on its launching thread when it was launched
-- (nvtx_ranges_at over the launch calls): the innermost range (e.g. the aten:: operator) and the outermost one
-- (e.g. the model step). Names are given raw and as nvtx_label() (PyTorch seq/op_id decorations removed).
-- Operations launched outside any range, or with no recorded launch call, have no row. Columns: op_id, op_kind,
-- device_id, pid, tid, innermost_range_id, innermost_name, innermost_label, outermost_range_id, outermost_name,
-- outermost_label. No parameters.
CREATE OR REPLACE VIEW gpu_op_nvtx AS
WITH launch_points AS (
    SELECT op_id AS point_id, api_pid AS pid, api_tid AS tid, api_start_ns AS ts_ns
    FROM cuda_launches
    WHERE api_tid IS NOT NULL
)
SELECT o.op_id, o.op_kind, o.device_id, o.pid, l.tid,
       h.innermost_range_id, i.name AS innermost_name, nvtx_label(i.name) AS innermost_label,
       h.outermost_range_id, t.name AS outermost_name, nvtx_label(t.name) AS outermost_label
FROM nvtx_ranges_at(launch_points) h
JOIN launch_points l USING (point_id)
JOIN gpu_ops o ON o.op_id = h.point_id
LEFT JOIN nvtx_ranges i ON i.range_id = h.innermost_range_id
LEFT JOIN nvtx_ranges t ON t.range_id = h.outermost_range_id
