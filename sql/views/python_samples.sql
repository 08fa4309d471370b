-- python_samples: one row per Python stack sample (cpu_samples with source 'python', recorded by
-- `inferscope record`), with its thread's name, its innermost frame (leaf_*) and its innermost frame outside the
-- Python standard library (code_*: the workload's or a package's own code, which is what a reader can act on;
-- the leaf when every frame is stdlib). state is the OS thread state at the sample: running (on a CPU or
-- runnable) or idle (sleeping or blocked, including waiting for the GIL); holds_gil tells whether the thread held
-- the GIL (NULL from the in-process sampler, which cannot know).
-- Columns: sample_id, ts_ns, pid, tid, thread_name, state, holds_gil, stack_id, depth (frames in the stack),
-- leaf_function, leaf_file, leaf_line, code_function, code_file, code_line, code_depth. No parameters.
CREATE OR REPLACE VIEW python_samples AS
WITH py_stacks AS (
    SELECT DISTINCT stack_id FROM cpu_samples WHERE source = 'python'
),
frames AS (
    SELECT f.stack_id, f.depth, f.function, f.file, f.line,
           (f.file LIKE '<frozen %' OR (regexp_matches(f.file, '/lib/python3\.[0-9]+t?/')
                                       AND NOT regexp_matches(f.file, '/(site|dist)-packages/'))) AS is_stdlib
    FROM stack_frames f
    JOIN py_stacks USING (stack_id)
),
per_stack AS (
    SELECT stack_id, count(*) AS depth,
           coalesce(min(depth) FILTER (WHERE NOT is_stdlib), 0) AS code_depth
    FROM frames
    GROUP BY stack_id
),
names AS (
    SELECT pid, tid, any_value(name) AS thread_name FROM threads GROUP BY pid, tid
)
SELECT s.sample_id, s.ts_ns, s.pid, s.tid, n.thread_name, s.state, s.holds_gil, s.stack_id, p.depth,
       leaf.function AS leaf_function, leaf.file AS leaf_file, leaf.line AS leaf_line,
       code.function AS code_function, code.file AS code_file, code.line AS code_line, p.code_depth
FROM cpu_samples s
JOIN per_stack p USING (stack_id)
LEFT JOIN frames leaf ON leaf.stack_id = s.stack_id AND leaf.depth = 0
LEFT JOIN frames code ON code.stack_id = s.stack_id AND code.depth = p.code_depth
LEFT JOIN names n ON n.pid = s.pid AND n.tid = s.tid
WHERE s.source = 'python'
