-- kineto processes: host processes (pids of CPU-side events) with their process_name metadata -> model table
-- `processes`. The GPU pseudo-processes Kineto writes (pid = device, labels "GPU n") are not processes and are
-- left out. In a multi-rank directory the name gets " [rank N]". Input: `_kineto_events`. No parameters.
WITH cpu AS (
    SELECT DISTINCT file_idx, rank, pid FROM _kineto_events
    WHERE kind IN ('cpu_op', 'user_annotation', 'runtime', 'driver', 'python_function', 'instant', 'memory')
      AND pid IS NOT NULL
),
names AS (
    SELECT file_idx, pid, min(args->>'$.name') AS name
    FROM _kineto_events WHERE kind = 'meta' AND name = 'process_name' GROUP BY ALL
)
SELECT c.pid,
       n.name || CASE WHEN (SELECT count(*) FROM _files) > 1 THEN ' [rank ' || c.rank || ']' ELSE '' END AS name
FROM cpu c LEFT JOIN names n USING (file_idx, pid)
ORDER BY c.pid
