-- kineto launch_pids (staging): the process behind each GPU row. Kineto puts GPU activity under pid = device
-- and tid = stream; the model wants the launching process, which is the pid of the CUDA runtime/driver call with
-- the same correlation id in the same file. When no call is recorded, the file's main process (the pid with the
-- most CPU-side events) is used. Input: `_kineto_events`. Output: file_idx, correlation (NULL = the file's
-- default), pid. No parameters.
WITH calls AS (
    SELECT file_idx, correlation, min(pid) AS pid
    FROM _kineto_events
    WHERE kind IN ('runtime', 'driver') AND correlation IS NOT NULL
    GROUP BY file_idx, correlation
),
main AS (
    SELECT file_idx, CAST(NULL AS BIGINT) AS correlation, mode(pid) AS pid
    FROM _kineto_events
    WHERE kind IN ('cpu_op', 'user_annotation', 'runtime', 'driver', 'python_function') AND pid IS NOT NULL
    GROUP BY file_idx
)
SELECT * FROM calls
UNION ALL
SELECT * FROM main
