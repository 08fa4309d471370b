-- python_hot_frames: one row per Python function (function name and file) seen in the trace's Python stack
-- samples (view python_samples), over all processes and threads, with how often it was the code running and how
-- often it was anywhere on the stack: the flat profile of a sampling profiler. "Self" counts the samples whose
-- code frame (innermost frame outside the standard library, python_samples.code_*) is this function, so time in
-- stdlib helpers is charged to the caller a reader can change; "total" counts the samples with this function at
-- any depth, once per sample even when it recurses. The *_cpu_* columns count only samples whose thread was on a
-- CPU (state running), which is what a hot loop shows and an idle or waiting thread does not; shares are of all
-- Python samples (self_pct, total_pct) and of the on-CPU ones (self_cpu_pct, total_cpu_pct).
-- line is where the function was most often running (its most sampled line as a self frame; without self samples,
-- its most sampled line on the stack, i.e. a call site).
-- Columns: function, file, line, self_samples, total_samples, self_cpu_samples, total_cpu_samples, self_pct,
-- total_pct, self_cpu_pct, total_cpu_pct, threads (distinct pid/tid with self samples), all_samples,
-- all_cpu_samples (the denominators). No parameters.
CREATE OR REPLACE VIEW python_hot_frames AS
WITH s AS (
    SELECT pid, tid, stack_id, code_function, code_file, code_line, state = 'running' AS on_cpu
    FROM python_samples
),
totals AS (
    SELECT count(*) AS all_samples, count(*) FILTER (WHERE on_cpu) AS all_cpu_samples FROM s
),
self_lines AS (
    SELECT code_function AS function, code_file AS file, code_line AS line, count(*) AS n,
           count(*) FILTER (WHERE on_cpu) AS n_cpu
    FROM s
    GROUP BY code_function, code_file, code_line
),
self AS (
    SELECT function, file, sum(n) AS self_samples, sum(n_cpu) AS self_cpu_samples,
           arg_max(line, n_cpu * 1000000000 + n) AS self_line
    FROM self_lines
    GROUP BY function, file
),
self_threads AS (
    SELECT code_function AS function, code_file AS file, count(DISTINCT (pid, tid)) AS threads
    FROM s
    GROUP BY code_function, code_file
),
per_stack AS (
    SELECT stack_id, count(*) AS n, count(*) FILTER (WHERE on_cpu) AS n_cpu FROM s GROUP BY stack_id
),
stack_functions AS (  -- each function once per stack, at its innermost occurrence
    SELECT f.stack_id, f.function, f.file, arg_min(f.line, f.depth) AS line
    FROM stack_frames f
    JOIN per_stack USING (stack_id)
    GROUP BY f.stack_id, f.function, f.file
),
total AS (
    SELECT sf.function, sf.file, sum(p.n) AS total_samples, sum(p.n_cpu) AS total_cpu_samples,
           arg_max(sf.line, p.n) AS stack_line
    FROM stack_functions sf
    JOIN per_stack p USING (stack_id)
    GROUP BY sf.function, sf.file
)
SELECT t.function, t.file, coalesce(sl.self_line, t.stack_line) AS line,
       coalesce(sl.self_samples, 0) AS self_samples, t.total_samples,
       coalesce(sl.self_cpu_samples, 0) AS self_cpu_samples, t.total_cpu_samples,
       coalesce(sl.self_samples, 0) * 100.0 / nullif(x.all_samples, 0) AS self_pct,
       t.total_samples * 100.0 / nullif(x.all_samples, 0) AS total_pct,
       coalesce(sl.self_cpu_samples, 0) * 100.0 / nullif(x.all_cpu_samples, 0) AS self_cpu_pct,
       t.total_cpu_samples * 100.0 / nullif(x.all_cpu_samples, 0) AS total_cpu_pct,
       coalesce(th.threads, 0) AS threads, x.all_samples, x.all_cpu_samples
FROM total t
CROSS JOIN totals x
LEFT JOIN self sl ON sl.function IS NOT DISTINCT FROM t.function AND sl.file IS NOT DISTINCT FROM t.file
LEFT JOIN self_threads th ON th.function IS NOT DISTINCT FROM t.function AND th.file IS NOT DISTINCT FROM t.file
