-- compare_step_tokens: the tokens each step processed, where its step annotation says so. The counts come from the
-- serving engines' step names as the serving report reads them (view serving_step_names): vLLM's scheduler step
-- execute_context_N(T)_generation_M(G) processed T prompt tokens (N requests in prefill) and G generated tokens
-- (M requests in decode), and a project's own [serving] step_patterns name theirs with prefill_tokens /
-- decode_tokens groups. A step whose naming holds neither count as one number (TensorRT-LLM and SGLang name
-- requests or the mode only; the B200 vLLM trace writes T as `888_788544`) has no row. compare divides the step
-- time by these to judge time per token, so that a step doing more tokens does not read as a slower step.
-- Grain: one row per step of compare_steps whose range names its counts. No parameters.
CREATE OR REPLACE VIEW compare_step_tokens(
    -- Process that ran the step.
    pid,
    -- Position of the step in its process, as compare_steps.
    step_number,
    -- Prompt plus generated tokens the step processed, T + G (a count the naming leaves out counts 0).
    tokens
) AS
WITH named AS (
    SELECT s.pid, s.step_number, TRY_CAST(n.t AS BIGINT) AS t, TRY_CAST(n.g AS BIGINT) AS g,
           -- a field written but not one number: the count is unknown, not 0
           (n.t IS NOT NULL AND TRY_CAST(n.t AS BIGINT) IS NULL)
               OR (n.g IS NOT NULL AND TRY_CAST(n.g AS BIGINT) IS NULL) AS unreadable
    FROM compare_steps s
    JOIN serving_step_names n USING (range_id)
)
SELECT pid, step_number, coalesce(t, 0) + coalesce(g, 0)
FROM named
WHERE (t IS NOT NULL OR g IS NOT NULL) AND NOT unreadable
