-- step_matches: annotation ranges whose name marks one iteration (step) of the workload, with the priority of the
-- pattern that matched. Default patterns (RE2; (?i) = case-insensitive), best first:
--   1  ^ProfilerStep#[0-9]+$                                   (torch.profiler steps)
--   2  step / iteration / iter names, optionally prefixed (train_step, inference step 3, Iteration 12), and the
--      scheduler steps of serving engines in vLLM's naming, execute_context_N(T)_generation_M(G) (extra text
--      after it, such as emit_nvtx's ", op_id = ...", allowed), TensorRT-LLM's PyTorch executor
--      ([Executor] _forward_step I: N ctx reqs, M gen reqs) and SGLang's model runner under stack recording
--      (the Python frame ...model_runner.py(L): forward_extend / forward_decode / forward_idle)
--   3  prefill / decode ranges (prefill, decode_step 7, decoding)
--   4  forward passes (forward, model.forward, fwd 3)
-- step_ranges keeps, per process, only the best priority present. Patterns are literals here because DuckDB
-- compiles a regular expression once per query only when it is a constant; `--step-pattern` /
-- Trace.analyze(step_patterns=...) replace this view with a temporary table of the same columns built from the
-- user's patterns. GPU-timeline annotations (gpu_user_annotation) and empty ranges are never steps.
-- Columns: range_id, priority. No parameters.
CREATE OR REPLACE VIEW step_matches AS
SELECT range_id, priority
FROM (
    SELECT range_id,
           CASE
               WHEN regexp_matches(name, '^ProfilerStep#[0-9]+$') THEN 1
               WHEN regexp_matches(name, '(?i)^(train|training|inference|infer|serving|serve|engine|model|generation|batch)?[ _.:-]?(step|iteration|iter)([ _#:.-]*[0-9]+)?$') THEN 2
               WHEN regexp_matches(name, '^execute_context_[0-9]+\([0-9_]*\)_generation_[0-9]+\([0-9_]*\)') THEN 2
               WHEN regexp_matches(name, '^(\[Executor\] )?_forward_step( [0-9]+)?: [0-9]+ ctx reqs, [0-9]+ gen reqs')
               THEN 2
               WHEN regexp_matches(name, 'model_runner\.py\([0-9]+\): forward_(extend|decode|idle)$') THEN 2
               WHEN regexp_matches(name, '(?i)^(prefill|decode|decoding|context[ _]phase)([ _#:.-].*)?$') THEN 3
               WHEN regexp_matches(name, '(?i)^(model[ _.]?)?(forward|fwd)([ _#:.-]*[0-9]+)?$') THEN 4
           END AS priority
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0
      -- one cheap pass (substring tests, a quarter of a regex's cost) discards the (usually millions of) names
      -- that cannot match any pattern
      AND (name ILIKE '%step%' OR name ILIKE '%iter%' OR name ILIKE '%prefill%' OR name ILIKE '%decod%'
           OR name ILIKE '%context%' OR name ILIKE '%forward%' OR name ILIKE '%fwd%')
)
WHERE priority IS NOT NULL
