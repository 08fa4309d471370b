-- gpu_op_nvtx: each GPU operation with the annotation ranges open on its launching thread when it was launched
-- (host_point_ranges): the innermost range (e.g. the aten:: operator) and the outermost one (e.g. the model step).
-- Names are given raw and as nvtx_label() (PyTorch seq/op_id decorations removed). Operations launched outside any
-- range, or with no recorded launch call, have no row. Columns: op_id, op_kind, device_id, pid, tid,
-- innermost_range_id, innermost_name, innermost_label, outermost_range_id, outermost_name, outermost_label.
-- No parameters.
CREATE OR REPLACE VIEW gpu_op_nvtx AS
SELECT o.op_id, o.op_kind, o.device_id, o.pid, h.tid,
       h.innermost_range_id, i.name AS innermost_name, nvtx_label(i.name) AS innermost_label,
       h.outermost_range_id, t.name AS outermost_name, nvtx_label(t.name) AS outermost_label
FROM host_point_ranges h
JOIN gpu_ops o ON o.op_id = h.point_id
LEFT JOIN nvtx_ranges i ON i.range_id = h.innermost_range_id
LEFT JOIN nvtx_ranges t ON t.range_id = h.outermost_range_id
WHERE h.point_kind = 'launch'
