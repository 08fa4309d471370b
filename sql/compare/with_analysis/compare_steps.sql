-- compare_steps, when the analysis engine is installed: its step_ranges (ProfilerStep#N first, then step /
-- iteration, prefill / decode and forward ranges, or the configured / --step-pattern patterns), so that compare and
-- analyze see the same steps. Replaces sql/compare/compare_steps.sql; same columns. Steps still open when capture
-- stopped are left out (their duration is cut short). No parameters.
CREATE OR REPLACE VIEW compare_steps(
    -- Process that ran the step.
    pid,
    -- range_id of the step range in nvtx_ranges.
    range_id,
    -- Position of the step in its process, from 0.
    step_number,
    -- Step start, ns on the trace timeline.
    start_ns,
    -- Step end, ns.
    end_ns,
    -- Step wall time, ns.
    dur_ns
) AS
SELECT s.pid, s.range_id,
       row_number() OVER (PARTITION BY s.pid ORDER BY s.start_ns, s.range_id) - 1 AS step_number,
       s.start_ns, s.end_ns, s.dur_ns
FROM step_ranges s
JOIN nvtx_ranges r USING (range_id)
WHERE NOT coalesce(r.unterminated, false)
