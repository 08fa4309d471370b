-- gpu_op_startend: GPU operations launched inside start/end annotation ranges of the same process. Start/end
-- ranges (nvtxRangeStart/End) may begin and end on different threads and may overlap each other (one per request
-- in a server), so an operation can belong to several; membership is by launch time (API call start, or GPU start
-- when no call was recorded) within [start_ns, end_ns]. Columns: op_id, op_kind, device_id, pid, range_id,
-- range_name, cross_thread. No parameters.
CREATE OR REPLACE VIEW gpu_op_startend AS
SELECT l.op_id, l.op_kind, l.device_id, l.pid, r.range_id, r.name AS range_name, r.cross_thread
FROM cuda_launches l
JOIN nvtx_ranges r
  ON r.pid = l.pid AND l.launch_ns >= r.start_ns AND l.launch_ns <= r.end_ns
WHERE r.style = 'StartEnd'
