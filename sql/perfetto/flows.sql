-- perfetto flows: one arrow per GPU operation from the CUDA API call that launched it (same pid and correlation
-- id), as a Chrome-trace flow start ("s", bound to the API slice) and finish ("f", bound to the GPU slice).
-- Reads two relations the exporter registers once tracks are chosen: _perfetto_launch_src(pid, correlation_id,
-- track_pid, track_tid, ts_ns) for API calls and _perfetto_launch_dst(...) for GPU operations.
-- Grain: two rows (lines) per matched GPU operation. No parameters.
WITH src AS (
    SELECT * FROM _perfetto_launch_src
    QUALIFY row_number() OVER (PARTITION BY pid, correlation_id ORDER BY ts_ns) = 1
),
pairs AS (
    SELECT row_number() OVER (ORDER BY d.ts_ns, d.track_pid, d.track_tid) AS flow_id,
           s.track_pid AS s_pid, s.track_tid AS s_tid, s.ts_ns AS s_ts,
           d.track_pid AS d_pid, d.track_tid AS d_tid, d.ts_ns AS d_ts
    FROM _perfetto_launch_dst d
    JOIN src s ON s.pid = d.pid AND s.correlation_id = d.correlation_id
)
SELECT line FROM (
    SELECT flow_id, 0 AS part, '{"ph":"s","cat":"launch","name":"launch","id":' || flow_id || ',"pid":' || s_pid
           || ',"tid":' || s_tid || ',"ts":' || perfetto_us(s_ts) || '}' AS line
    FROM pairs
    UNION ALL
    SELECT flow_id, 1, '{"ph":"f","bp":"e","cat":"launch","name":"launch","id":' || flow_id || ',"pid":' || d_pid
           || ',"tid":' || d_tid || ',"ts":' || perfetto_us(d_ts) || '}'
    FROM pairs
)
ORDER BY flow_id, part
