-- phase_ranges: annotation ranges that name an inference phase: 'prefill' (prefill, context phase) or 'decode'
-- (decode, decoding), case-insensitive, followed by nothing or a separator ((?i)^(prefill|...)([ _#:.-].*)?$).
-- A step takes the phase of the phase range that overlaps it most, which is the step itself when the step range
-- is named decode_N. A serving engine's scheduler step in vLLM's naming, execute_context_N(T)_generation_M(G),
-- is 'prefill' when only requests in prefill ran (N > 0, M = 0) and 'decode' when only requests in decode ran
-- (N = 0, M > 0); a mixed step has no single phase. TensorRT-LLM's `_forward_step: N ctx reqs, M gen reqs` reads
-- the same way, and SGLang's model-runner frames `forward_extend` / `forward_decode` are prefill / decode.
-- Columns: range_id, pid, tid, start_ns, end_ns, phase.
-- No parameters.
CREATE OR REPLACE VIEW phase_ranges AS
SELECT range_id, pid, tid, start_ns, end_ns,
       CASE WHEN engine[1] IS NOT NULL THEN CASE WHEN engine[1] > 0 AND engine[2] = 0 THEN 'prefill'
                                                 WHEN engine[1] = 0 AND engine[2] > 0 THEN 'decode' END
            WHEN sglang <> '' THEN CASE sglang WHEN 'extend' THEN 'prefill' ELSE 'decode' END
            WHEN lower(word) IN ('prefill', 'context phase', 'context_phase') THEN 'prefill' ELSE 'decode' END AS phase
FROM (
    SELECT *, regexp_extract(name, '(?i)^(prefill|context[ _]phase|decode|decoding)([ _#:.-].*)?$', 1) AS word,
           CASE WHEN regexp_matches(name, '^execute_context_[0-9]+\([0-9_]*\)_generation_[0-9]+\(')
                THEN [CAST(regexp_extract(name, '^execute_context_([0-9]+)', 1) AS BIGINT),
                      CAST(regexp_extract(name, '_generation_([0-9]+)\(', 1) AS BIGINT)]
                WHEN regexp_matches(name, '_forward_step( [0-9]+)?: [0-9]+ ctx reqs, [0-9]+ gen reqs')
                THEN [CAST(regexp_extract(name, ': ([0-9]+) ctx reqs', 1) AS BIGINT),
                      CAST(regexp_extract(name, ', ([0-9]+) gen reqs', 1) AS BIGINT)] END AS engine,
           regexp_extract(name, 'model_runner\.py\([0-9]+\): forward_(extend|decode)$', 1) AS sglang
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation'
      -- every pattern above holds one of these substrings: they discard the (usually millions of) other names at a
      -- quarter of the regexes' cost
      AND (name ILIKE '%prefill%' OR name ILIKE '%context%' OR name ILIKE '%decod%' OR name ILIKE '%forward%')
)
WHERE word <> '' OR sglang <> '' OR (engine IS NOT NULL AND (engine[1] = 0) <> (engine[2] = 0))
