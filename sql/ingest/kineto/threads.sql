-- kineto threads: host threads (pid, tid of CPU-side events) with their thread_name metadata -> model table
-- `threads`. Input: `_kineto_events`. No parameters.
WITH cpu AS (
    SELECT DISTINCT file_idx, pid, tid FROM _kineto_events
    WHERE kind IN ('cpu_op', 'user_annotation', 'runtime', 'driver', 'python_function', 'instant', 'memory')
      AND pid IS NOT NULL AND tid IS NOT NULL
),
names AS (
    SELECT file_idx, pid, tid, min(args->>'$.name') AS name
    FROM _kineto_events WHERE kind = 'meta' AND name = 'thread_name' GROUP BY ALL
)
SELECT c.pid, c.tid, n.name, CAST(NULL AS BIGINT) AS priority
FROM cpu c LEFT JOIN names n USING (file_idx, pid, tid)
ORDER BY c.pid, c.tid
