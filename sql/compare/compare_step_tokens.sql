-- compare_step_tokens: the tokens each step processed, where its step annotation says so: a serving engine's
-- scheduler step in vLLM's naming, execute_context_N(T)_generation_M(G), processed T prompt tokens (N requests in
-- prefill) and G generated tokens (M requests in decode). Extra text after the counts is ignored. compare divides
-- the step time by these to judge time per token, so that a step doing more tokens does not read as a slower step.
-- Grain: one row per step of compare_steps whose range names its counts. No parameters.
CREATE OR REPLACE VIEW compare_step_tokens(
    -- Process that ran the step.
    pid,
    -- Position of the step in its process, as compare_steps.
    step_number,
    -- Prompt plus generated tokens the step processed, T + G.
    tokens
) AS
WITH named AS (
    SELECT s.pid, s.step_number,
           regexp_extract(r.name, '^execute_context_([0-9]+)\(([0-9]+)\)_generation_([0-9]+)\(([0-9]+)\)',
                          ['n', 't', 'm', 'g']) AS f
    FROM compare_steps s
    JOIN nvtx_ranges r USING (range_id)
)
SELECT pid, step_number, f.t::BIGINT + f.g::BIGINT
FROM named
WHERE f.t <> ''
