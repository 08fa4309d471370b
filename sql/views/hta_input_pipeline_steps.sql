-- hta_input_pipeline_steps: per profiler step (ProfilerStep#N range, whatever category the profiler gave it)
-- and GPU of its process, how much of the step
-- the host spent in the input pipeline (ranges whose name matches the input-op pattern: DataLoader iteration,
-- collate, preprocessing; nested ones counted once) and how idle the GPU was meanwhile. A step is input_bound
-- when the input pipeline takes at least hta_input_bound_pct of it (torch-tb-profiler flagged DataLoader time
-- above 5 % of the step).
-- Parameters: hta_input_ops_regex = '(?i)(dataloader|collate|preprocess)', hta_input_bound_pct = 5.
-- Columns: step_id, step_name, pid, device_id, step_start_ns, step_ns, input_ns, input_pct, gpu_busy_ns,
-- gpu_idle_pct, input_bound. Requires: hta_gpu_coverage, hta_gpu_ops, nvtx_ranges.
CREATE OR REPLACE VIEW hta_input_pipeline_steps AS
WITH steps AS (
    SELECT range_id AS step_id, name AS step_name, pid, start_ns, end_ns, dur_ns
    FROM nvtx_ranges
    -- older PyTorch profilers recorded ProfilerStep#N as an operator (category 'Operator' -> cpu_op), not a
    -- user annotation, so the ingest's 'profiler_step' category misses them: the name decides as well
    WHERE category = 'profiler_step'
       OR (category IN ('cpu_op', 'user_annotation') AND regexp_matches(name, '^ProfilerStep\s*#\s*\d+'))
),
inputs AS (
    SELECT s.step_id, greatest(r.start_ns, s.start_ns) AS start_ns, least(r.end_ns, s.end_ns) AS end_ns
    FROM steps s
    JOIN nvtx_ranges r ON r.pid = s.pid AND r.start_ns < s.end_ns AND r.end_ns > s.start_ns
    WHERE r.category IN ('cpu_op', 'user_annotation', 'python_function')
      AND regexp_matches(r.name, coalesce(getvariable('hta_input_ops_regex'), '(?i)(dataloader|collate|preprocess)'))
),
marked AS (
    SELECT *, CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY step_id ORDER BY start_ns, end_ns
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                   THEN 0 ELSE 1 END AS opens
    FROM inputs
),
islands AS (
    SELECT step_id, max(end_ns) - min(start_ns) AS dur_ns
    FROM (SELECT *, sum(opens) OVER (PARTITION BY step_id ORDER BY start_ns, end_ns ROWS UNBOUNDED PRECEDING) AS k
          FROM marked)
    GROUP BY step_id, k
),
input_time AS (SELECT step_id, CAST(sum(dur_ns) AS BIGINT) AS input_ns FROM islands GROUP BY step_id),
devices AS (SELECT DISTINCT pid, device_id FROM hta_gpu_ops),
gpu AS (
    SELECT s.step_id, d.device_id,
           CAST(coalesce(sum(greatest(0, least(b.end_ns, s.end_ns) - greatest(b.start_ns, s.start_ns))), 0) AS BIGINT)
               AS gpu_busy_ns
    FROM steps s
    JOIN devices d ON d.pid = s.pid
    LEFT JOIN hta_gpu_coverage b
      ON b.device_id = d.device_id AND b.state > 0 AND b.start_ns < s.end_ns AND b.end_ns > s.start_ns
    GROUP BY s.step_id, d.device_id
)
SELECT s.step_id, s.step_name, s.pid, g.device_id, s.start_ns AS step_start_ns, s.dur_ns AS step_ns,
       coalesce(i.input_ns, 0) AS input_ns,
       100.0 * coalesce(i.input_ns, 0) / nullif(s.dur_ns, 0) AS input_pct,
       g.gpu_busy_ns,
       100.0 * (s.dur_ns - g.gpu_busy_ns) / nullif(s.dur_ns, 0) AS gpu_idle_pct,
       100.0 * coalesce(i.input_ns, 0) / nullif(s.dur_ns, 0) >= coalesce(getvariable('hta_input_bound_pct'), 5)
           AS input_bound
FROM steps s
LEFT JOIN input_time i USING (step_id)
LEFT JOIN gpu g USING (step_id)
