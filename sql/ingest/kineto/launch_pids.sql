-- kineto launch_pids (staging): the process behind each GPU row. Kineto puts GPU activity under pid = device
-- and tid = stream; the model wants the launching process, which is the pid of the CUDA runtime/driver call with
-- the same correlation id in the same file. When no call is recorded, the file's main process (the pid with the
-- most CPU-side events) is used. graph_launch marks a correlation whose call replayed a CUDA graph
-- (cudaGraphLaunch / cuGraphLaunch): Kineto gives every kernel of one replay that call's correlation id and records
-- no graph id, so this is the only evidence that a kernel was a graph node rather than launched one by one.
-- Input: `_kineto_events`. Output: file_idx, correlation (NULL = the file's default), pid, graph_launch.
-- No parameters.
WITH calls AS (
    SELECT file_idx, correlation, min(pid) AS pid,
           bool_or(regexp_matches(name, '^cu(da)?GraphLaunch')) AS graph_launch
    FROM _kineto_events
    WHERE kind IN ('runtime', 'driver') AND correlation IS NOT NULL
    GROUP BY file_idx, correlation
),
main AS (
    SELECT file_idx, CAST(NULL AS BIGINT) AS correlation, mode(pid) AS pid, false AS graph_launch
    FROM _kineto_events
    WHERE kind IN ('cpu_op', 'user_annotation', 'runtime', 'driver', 'python_function') AND pid IS NOT NULL
    GROUP BY file_idx
)
SELECT * FROM calls
UNION ALL
SELECT * FROM main
