-- serving_step_names: the scheduler steps that serving engines name, one row per matching host range, with the raw
-- fields each naming carries. Built-in namings:
--   vLLM           annotation `execute_context_N(T)_generation_M(G)`: N requests in prefill (context) with T prompt
--                  tokens, M requests in decode (generation) with G tokens; extra text after it (emit_nvtx's
--                  `, op_id = ...`, `, sizes = ...`) is ignored;
--   TensorRT-LLM   the PyTorch executor's NVTX range `[Executor] _forward_step I: N ctx reqs, M gen reqs` (older
--                  releases: without `[Executor] ` or the iteration I): requests only, no token counts;
--   SGLang         the model runner's Python frames under the profiler's stack recording (`...model_runner.py(L):
--                  forward_extend` = prefill, `forward_decode` = decode, `forward_idle`): the mode only, no counts.
-- A project adds its own engine's naming with the [serving] step_patterns configuration (or
-- Trace.analyze(serving_patterns=...)): analysis then loads a temporary table of the same name and columns, holding
-- these rows less the ranges a user pattern matches plus one row per such range, which shadows this view.
-- GPU-timeline copies of an annotation (Kineto gpu_user_annotation) and empty ranges are never steps.
-- Grain: one row per named step range. No parameters.
CREATE OR REPLACE VIEW serving_step_names(
    -- the annotation range (nvtx_ranges.range_id), its process and thread; its host range, ns.
    range_id, pid, tid, start_ns, end_ns, dur_ns,
    -- the fields as written (text, NULL where the naming has none): requests and tokens in prefill (n, t) and in
    -- decode (m, g).
    n, t, m, g,
    -- the kind the naming states outright (prefill | decode | mixed | idle), NULL where it is read from n and m.
    mode,
    -- the naming the row came from.
    evidence
) AS
SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, f.n, f.t, f.m, f.g, NULL, evidence
FROM (SELECT *, regexp_extract(name, '^execute_context_([0-9]+)\(([0-9_]*)\)_generation_([0-9]+)\(([0-9_]*)\)',
                               ['n', 't', 'm', 'g']) AS f,
             'annotation execute_context_N(T)_generation_M(G) (vLLM step naming)' AS evidence
      FROM nvtx_ranges
      WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0 AND starts_with(name, 'execute_context_'))
WHERE f.n <> ''
UNION ALL
SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, x.n, NULL, x.m, NULL, NULL,
       'annotation _forward_step: N ctx reqs, M gen reqs (TensorRT-LLM PyTorch executor)'
FROM (SELECT *, regexp_extract(name, '^(\[Executor\] )?_forward_step( [0-9]+)?: ([0-9]+) ctx reqs, ([0-9]+) gen reqs',
                               ['p', 'i', 'n', 'm']) AS x
      FROM nvtx_ranges
      WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0 AND contains(name, '_forward_step'))
WHERE x.n <> ''
UNION ALL
SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, NULL, NULL, NULL, NULL,
       CASE mode WHEN 'extend' THEN 'prefill' ELSE mode END,
       'Python frame model_runner.py: forward_' || mode || ' (SGLang ModelRunner)'
FROM (SELECT *, regexp_extract(name, 'model_runner\.py\([0-9]+\): forward_(extend|decode|idle)$', 1) AS mode
      FROM nvtx_ranges
      WHERE category = 'python_function' AND dur_ns > 0 AND contains(name, 'model_runner.py'))
WHERE mode <> ''
