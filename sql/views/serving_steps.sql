-- serving_steps: the scheduler steps (iterations) of a serving engine, read from what each engine emits:
--   vLLM           annotation `execute_context_N(T)_generation_M(G)`: N requests in prefill (context) with T prompt
--                  tokens, M requests in decode (generation) with G tokens; extra text after it (emit_nvtx's
--                  `, op_id = ...`, `, sizes = ...`) is ignored; a T or G that is not one number (the B200 vLLM
--                  trace writes `execute_context_1(888_788544)`) leaves the token count NULL, the requests stand;
--   TensorRT-LLM   the PyTorch executor's NVTX range `[Executor] _forward_step I: N ctx reqs, M gen reqs` (older
--                  releases: without `[Executor] ` or the iteration I): requests only, no token counts;
--   SGLang         the model runner's Python frames under the profiler's stack recording (`...model_runner.py(L):
--                  forward_extend` = prefill, `forward_decode` = decode, `forward_idle`): the mode only, no counts.
-- kind: 'prefill' (N > 0, M = 0), 'decode' (N = 0, M > 0), 'mixed' (both), 'idle' (neither); for SGLang the frame's
-- mode. GPU busy is the time any GPU operation ran on the device inside the step's host range (an interval union
-- per device: gpu_busy kind 'all'; the busiest device when there are several). GPU-timeline copies of an annotation
-- (Kineto gpu_user_annotation) are not steps. evidence names the engine and the pattern each label came from.
-- Grain: one row per step range. No parameters.
CREATE OR REPLACE VIEW serving_steps(
    -- 1, 2, ... in start order.
    step_id,
    -- the annotation range (nvtx_ranges.range_id), its process and thread.
    range_id, pid, tid,
    -- the step's host range, ns.
    start_ns, end_ns, dur_ns,
    -- prefill | decode | mixed | idle.
    kind,
    -- requests in prefill and their prompt tokens; requests in decode and their tokens.
    context_requests, context_tokens, generation_requests, generation_tokens,
    -- GPU busy inside the step (interval union), ns, and as a share of the step (0-100).
    gpu_busy_ns, gpu_busy_pct,
    -- what the label was read from.
    evidence
) AS
WITH named AS (
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns,
           regexp_extract(name, '^execute_context_([0-9]+)\(([0-9_]*)\)_generation_([0-9]+)\(([0-9_]*)\)',
                          ['n', 't', 'm', 'g']) AS f,
           CAST(NULL AS VARCHAR) AS mode,
           'annotation execute_context_N(T)_generation_M(G) (vLLM step naming)' AS evidence
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0
      AND starts_with(name, 'execute_context_')
    UNION ALL
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns,
           {'n': x.n, 't': CAST(NULL AS VARCHAR), 'm': x.m, 'g': CAST(NULL AS VARCHAR)},
           NULL, 'annotation _forward_step: N ctx reqs, M gen reqs (TensorRT-LLM PyTorch executor)'
    FROM (SELECT *, regexp_extract(name,
                                   '^(\[Executor\] )?_forward_step( [0-9]+)?: ([0-9]+) ctx reqs, ([0-9]+) gen reqs',
                                   ['p', 'i', 'n', 'm']) AS x
          FROM nvtx_ranges
          WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0 AND contains(name, '_forward_step'))
    WHERE x.n <> ''
    UNION ALL
    SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, {'n': CAST(NULL AS VARCHAR), 't': CAST(NULL AS VARCHAR),
                                                'm': CAST(NULL AS VARCHAR), 'g': CAST(NULL AS VARCHAR)},
           mode, 'Python frame model_runner.py: forward_' || mode || ' (SGLang ModelRunner)'
    FROM (SELECT *, regexp_extract(name, 'model_runner\.py\([0-9]+\): forward_(extend|decode|idle)$', 1) AS mode
          FROM nvtx_ranges
          WHERE category = 'python_function' AND dur_ns > 0 AND contains(name, 'model_runner.py'))
    WHERE mode <> ''
),
steps AS (
    SELECT row_number() OVER (ORDER BY start_ns, range_id) AS step_id, range_id, pid, tid, start_ns, end_ns, dur_ns,
           -- DuckDB would read 888_788544 as one number (underscores are digit separators to it): not a count
           TRY_CAST(f.n AS BIGINT) AS n, CASE WHEN NOT contains(f.t, '_') THEN TRY_CAST(f.t AS BIGINT) END AS t,
           TRY_CAST(f.m AS BIGINT) AS m, CASE WHEN NOT contains(f.g, '_') THEN TRY_CAST(f.g AS BIGINT) END AS g,
           mode, evidence
    FROM named
    WHERE f.n <> '' OR mode IS NOT NULL
),
busy AS (
    SELECT s.step_id, b.device_id,
           sum(least(b.end_ns, s.end_ns) - greatest(b.start_ns, s.start_ns)) AS busy_ns
    FROM steps s
    JOIN gpu_busy b ON b.kind = 'all' AND b.start_ns < s.end_ns AND b.end_ns > s.start_ns
    GROUP BY s.step_id, b.device_id
)
SELECT s.step_id, s.range_id, s.pid, s.tid, s.start_ns, s.end_ns, s.dur_ns,
       CASE s.mode WHEN 'extend' THEN 'prefill' WHEN 'decode' THEN 'decode' WHEN 'idle' THEN 'idle' ELSE
           CASE WHEN s.n > 0 AND s.m = 0 THEN 'prefill' WHEN s.n = 0 AND s.m > 0 THEN 'decode'
                WHEN s.n > 0 THEN 'mixed' ELSE 'idle' END END,
       s.n, s.t, s.m, s.g,
       coalesce(b.busy_ns, 0), 100.0 * coalesce(b.busy_ns, 0) / s.dur_ns,
       s.evidence
FROM steps s
LEFT JOIN (SELECT step_id, max(busy_ns) AS busy_ns FROM busy GROUP BY step_id) b USING (step_id)
