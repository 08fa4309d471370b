-- compare_steps: the profiler steps of a trace, one row per step and process: PyTorch `ProfilerStep#N` ranges
-- (or ranges an ingest marked category 'profiler_step'). When the analysis engine's step_ranges view exists,
-- with_analysis/compare_steps.sql replaces this definition. Steps still open when capture stopped are left out (their
-- duration is cut short), as are GPU-side copies of the step annotation. No parameters.
CREATE OR REPLACE VIEW compare_steps(
    -- Process that ran the step.
    pid,
    -- range_id of the step range in nvtx_ranges.
    range_id,
    -- Step number: N of ProfilerStep#N, else the step's position in its process.
    step_number,
    -- Step start, ns on the trace timeline.
    start_ns,
    -- Step end, ns.
    end_ns,
    -- Step wall time, ns.
    dur_ns
) AS
SELECT pid, range_id,
       coalesce(try_cast(regexp_extract(name, '#(\d+)$', 1) AS BIGINT),
                row_number() OVER (PARTITION BY pid ORDER BY start_ns)) AS step_number,
       start_ns, end_ns, dur_ns
FROM nvtx_ranges
WHERE (category = 'profiler_step' OR regexp_matches(name, '^ProfilerStep#\d+$'))
  AND category IS DISTINCT FROM 'gpu_user_annotation'
  AND NOT coalesce(unterminated, false)
