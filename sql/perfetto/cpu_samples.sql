-- perfetto cpu_samples: CPU samples as Chrome-trace instant events named after their leaf frame; `stack` in the
-- args is the call stack leaf first, one frame per line (at most 32 frames). `head` is the event's JSON up to the
-- thread id. Grain: one row per sample.
-- params: perfetto_from_ns, perfetto_to_ns (SET VARIABLE; NULL = unbounded): keep only events overlapping it.
WITH frames AS (
    SELECT stack_id,
           list(coalesce(function, '?') || CASE WHEN file IS NOT NULL THEN ' (' || file ||
                coalesce(':' || line, '') || ')' ELSE '' END ORDER BY depth) AS stack,
           arg_min(function, depth) AS leaf
    FROM stack_frames
    WHERE depth < 32
    GROUP BY stack_id
)
SELECT coalesce(s.pid, -1) AS pid, coalesce(s.tid, -1) AS tid, s.ts_ns AS start_ns, s.ts_ns AS end_ns,
       '{"ph":"i","s":"t","cat":"cpu_sample","name":' || to_json(coalesce(f.leaf, '(no stack)'))
           || ',"ts":' || perfetto_us(s.ts_ns)
           || ',"args":' || json_object('state', s.state, 'cpu', s.cpu, 'holds_gil', s.holds_gil, 'source', s.source,
                                        'stack', array_to_string(f.stack, chr(10)))::VARCHAR
           || ',"pid":' || coalesce(s.pid, -1) || ',"tid":' AS head
FROM cpu_samples s
LEFT JOIN frames f USING (stack_id)
WHERE s.ts_ns BETWEEN coalesce(getvariable('perfetto_from_ns'), s.ts_ns)
                  AND coalesce(getvariable('perfetto_to_ns'), s.ts_ns)
