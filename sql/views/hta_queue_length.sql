-- hta_queue_length: the number of outstanding GPU operations per stream over time (HTA's queue length time
-- series): +1 when a launch call starts, -1 when the operation it launched starts on the GPU. One row per change;
-- the value holds until the next row of the same stream. At equal times starts are applied before launches.
-- Columns: device_id, stream_id, ts_ns, queue_length. Requires: hta_launch_calls. No parameters.
CREATE OR REPLACE VIEW hta_queue_length AS
WITH ev AS (
    SELECT device_id, stream_id, api_start_ns AS ts_ns, 1 AS delta FROM hta_launch_calls
    UNION ALL
    SELECT device_id, stream_id, op_start_ns, -1 FROM hta_launch_calls
)
SELECT device_id, stream_id, ts_ns,
       sum(delta) OVER (PARTITION BY device_id, stream_id ORDER BY ts_ns, delta ROWS UNBOUNDED PRECEDING)
           AS queue_length
FROM ev
