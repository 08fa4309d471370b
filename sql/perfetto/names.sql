-- perfetto names: labels for the Chrome-trace process and thread tracks: one row per (pid, tid) seen in the
-- trace, tid NULL for the process row; `name` is NULL when the trace does not name it. No parameters.
SELECT pid, CAST(NULL AS BIGINT) AS tid, any_value(name) AS name FROM processes GROUP BY pid
UNION ALL
SELECT pid, tid, any_value(name) FROM threads GROUP BY pid, tid
