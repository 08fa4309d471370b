-- rule: input_pipeline_bound
-- title: Steps that wait for input data
-- severity: auto
-- group_by: pid
-- param min_input_pct = 5.0: a profiler step is input-bound when its input pipeline (DataLoader iteration, collate,
--   preprocessing ranges; view hta_input_pipeline_steps) takes at least this share of the step
--   (torch-tb-profiler's DataLoader threshold)
-- param min_steps = 1: report a process when at least this many of its steps are input-bound
-- impact: none (0): for each input-bound step, its input-pipeline time scaled by the share of the step the GPU
--   was idle (idle_ns, the part of the input wait the GPU could not hide); that idle is owned gap by gap by the
--   idle ledger's rules (idle_gap_attribution names the input-pipeline range around a host gap), so it is shown,
--   not counted again.
-- summary: {n} of {step_count:int} profiler steps of process {pid} spent at least {p_min_input_pct}% of their time
--   in the input pipeline (worst: {step_name}, {input_pct:pct} of {step_ns:time}); the GPU waited about
--   {sum_idle_ns:time}.
-- recommendation: Feed the GPU from background workers: DataLoader(num_workers > 0, pin_memory=True,
--   persistent_workers=True, prefetch_factor=...), move decoding and augmentation out of the step loop (or onto
--   the GPU), and cache preprocessed inputs.
-- why: Time a step spends fetching and preparing its batch on the host is time the GPU sits idle unless the
--   loading overlaps the previous step's GPU work.
WITH s AS (
    SELECT step_id, any_value(step_name) AS step_name, any_value(pid) AS pid,
           any_value(step_start_ns) AS start_ns, any_value(step_ns) AS step_ns, any_value(input_ns) AS input_ns,
           any_value(input_pct) AS input_pct, coalesce(min(gpu_idle_pct), 100) AS gpu_idle_pct
    FROM hta_input_pipeline_steps GROUP BY step_id
),
counted AS (
    SELECT *, count(*) OVER (PARTITION BY pid) AS step_count,
           count(*) FILTER (WHERE input_pct >= $min_input_pct) OVER (PARTITION BY pid) AS bound_steps
    FROM s
)
SELECT 0 AS impact_ns, CAST(round(input_ns * greatest(gpu_idle_pct, 0) / 100) AS BIGINT) AS idle_ns, pid, step_id,
       step_name,
       start_ns, start_ns + step_ns AS end_ns, step_ns, input_ns, input_pct, gpu_idle_pct, step_count
FROM counted
WHERE input_pct >= $min_input_pct AND bound_steps >= $min_steps
ORDER BY idle_ns DESC, step_id
