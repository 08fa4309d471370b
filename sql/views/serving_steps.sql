-- serving_steps: the scheduler steps (iterations) of a serving engine, with their kind, batch and GPU busy.
-- Where the steps come from, best evidence first:
--   1. what the engine names them (view serving_step_names: vLLM, TensorRT-LLM, SGLang, and the project's own
--      [serving] step_patterns): kind 'prefill' (N > 0, M = 0), 'decode' (N = 0, M > 0), 'mixed' (both), 'idle'
--      (neither), or the kind the naming states outright (SGLang's frame, a pattern's `kind` group); a T or G that is
--      not one number (the B200 vLLM trace writes `execute_context_1(888_788544)`) leaves the token count NULL;
--   2. only when nothing in the trace names a serving step: the trace's step ranges (step_ranges: ProfilerStep#,
--      step / iteration / forward ranges), labelled from the attention kernels launched inside them
--      (attention_phase_kernels): 'prefill' or 'decode' when the phase-naming families there all say so, 'mixed'
--      when both phases ran, NULL (unlabelled) when no kernel names a phase; no request or token counts.
-- GPU busy is the time any GPU operation ran on the device inside the step's host range (an interval union per
-- device: gpu_busy kind 'all'; the busiest device when there are several). evidence names the engine and pattern,
-- or the kernel families (with how many of their kernels), each label came from.
-- Grain: one row per step range. No parameters.
CREATE OR REPLACE VIEW serving_steps(
    -- 1, 2, ... in start order.
    step_id,
    -- the annotation range (nvtx_ranges.range_id), its process and thread.
    range_id, pid, tid,
    -- the step's host range, ns.
    start_ns, end_ns, dur_ns,
    -- prefill | decode | mixed | idle; NULL for a step range that no attention kernel family labels.
    kind,
    -- requests in prefill and their prompt tokens; requests in decode and their tokens.
    context_requests, context_tokens, generation_requests, generation_tokens,
    -- GPU busy inside the step (interval union), ns, and as a share of the step (0-100).
    gpu_busy_ns, gpu_busy_pct,
    -- what the label was read from.
    evidence
) AS
WITH windows AS (  -- nothing names a serving step: the trace's own step ranges, to label from their kernels
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, name FROM step_ranges
    WHERE NOT EXISTS (SELECT 1 FROM serving_step_names)
),
phase_launches AS (  -- the few launches of phase-naming attention kernels, before the range join
    SELECT coalesce(l.api_pid, l.pid) AS pid, l.launch_ns, k.phase, k.family
    FROM cuda_launches l
    JOIN attention_phase_kernels k ON k.name = l.op_name
    WHERE EXISTS (SELECT 1 FROM windows)
),
families AS (
    SELECT w.range_id, l.phase, l.family, count(*) AS kernels
    FROM windows w
    JOIN phase_launches l ON l.pid = w.pid AND l.launch_ns >= w.start_ns AND l.launch_ns < w.end_ns
    GROUP BY w.range_id, l.phase, l.family
),
labelled AS (
    SELECT w.range_id, any_value(w.pid) AS pid, any_value(w.tid) AS tid, any_value(w.start_ns) AS start_ns,
           any_value(w.end_ns) AS end_ns, any_value(w.dur_ns) AS dur_ns, any_value(w.name) AS name,
           bool_or(f.phase = 'prefill') AS p, bool_or(f.phase = 'decode') AS d,
           string_agg(f.family || ' (' || f.phase || ', ' || f.kernels || ' kernel'
                      || CASE WHEN f.kernels > 1 THEN 's' ELSE '' END || ')', ', ' ORDER BY f.phase DESC, f.family)
               AS seen
    FROM windows w
    LEFT JOIN families f USING (range_id)
    GROUP BY w.range_id
),
named AS (
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, n, t, m, g, mode, evidence, false AS from_kernels
    FROM serving_step_names
    UNION ALL
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, NULL, NULL, NULL, NULL,
           CASE WHEN p AND d THEN 'mixed' WHEN p THEN 'prefill' WHEN d THEN 'decode' END,
           CASE WHEN seen IS NULL
                THEN 'no engine step names, and no attention kernel family that names a phase ran in step range '''
                     || name || ''' (unlabelled)'
                ELSE 'attention kernel families ' || seen || ' launched in step range ''' || name
                     || ''' (no engine step names)' END,
           true
    FROM labelled
),
steps AS (
    SELECT row_number() OVER (ORDER BY start_ns, range_id) AS step_id, range_id, pid, tid, start_ns, end_ns, dur_ns,
           -- DuckDB would read 888_788544 as one number (underscores are digit separators to it): not a count
           TRY_CAST(n AS BIGINT) AS n, CASE WHEN NOT contains(t, '_') THEN TRY_CAST(t AS BIGINT) END AS t,
           TRY_CAST(m AS BIGINT) AS m, CASE WHEN NOT contains(g, '_') THEN TRY_CAST(g AS BIGINT) END AS g,
           mode, evidence, from_kernels
    FROM named
),
busy AS (
    SELECT s.step_id, b.device_id,
           sum(least(b.end_ns, s.end_ns) - greatest(b.start_ns, s.start_ns)) AS busy_ns
    FROM steps s
    JOIN gpu_busy b ON b.kind = 'all' AND b.start_ns < s.end_ns AND b.end_ns > s.start_ns
    GROUP BY s.step_id, b.device_id
)
SELECT s.step_id, s.range_id, s.pid, s.tid, s.start_ns, s.end_ns, s.dur_ns,
       CASE WHEN s.from_kernels OR s.mode IS NOT NULL THEN s.mode
            WHEN s.n > 0 AND s.m = 0 THEN 'prefill' WHEN s.n = 0 AND s.m > 0 THEN 'decode'
            WHEN s.n > 0 THEN 'mixed' ELSE 'idle' END,
       s.n, s.t, s.m, s.g,
       coalesce(b.busy_ns, 0), 100.0 * coalesce(b.busy_ns, 0) / s.dur_ns,
       s.evidence
FROM steps s
LEFT JOIN (SELECT step_id, max(busy_ns) AS busy_ns FROM busy GROUP BY step_id) b USING (step_id)
