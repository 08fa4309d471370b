-- perfetto cpu_samples: CPU samples as Chrome-trace instant events named after their leaf frame; `stack` is the
-- call stack leaf first, one frame per line (at most 32 frames). Grain: one row per sample. No parameters.
WITH frames AS (
    SELECT stack_id,
           list(coalesce(function, '?') || CASE WHEN file IS NOT NULL THEN ' (' || file ||
                coalesce(':' || line, '') || ')' ELSE '' END ORDER BY depth) AS stack,
           arg_min(function, depth) AS leaf
    FROM stack_frames
    WHERE depth < 32
    GROUP BY stack_id
)
SELECT s.pid, s.tid, s.ts_ns, coalesce(f.leaf, '(no stack)') AS name,
       json_object('state', s.state, 'cpu', s.cpu, 'holds_gil', s.holds_gil, 'source', s.source,
                   'stack', array_to_string(f.stack, chr(10)))::VARCHAR AS args_json
FROM cpu_samples s
LEFT JOIN frames f USING (stack_id)
