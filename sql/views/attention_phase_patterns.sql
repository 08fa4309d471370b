-- attention_phase_patterns: attention kernel families whose names say which serving phase ran them: a prefill
-- (context) kernel attends a whole prompt, a decode (generation) kernel one new token per request against the KV
-- cache. Only families whose name states the phase are listed: a kernel that serves both (FlashAttention's
-- flash_fwd_kernel, cuDNN's sdpa flash fprop, FlexAttention, Triton kernels with generic names) proves neither, and
-- "paged" alone says where the KV cache lives, not the phase (TensorRT-LLM's prefill kernels are PagedKv too).
-- A kernel matching a pattern (RE2, searched anywhere in the full name) belongs to the first family by priority.
-- Grain: one row per (family, pattern). No parameters.
CREATE OR REPLACE VIEW attention_phase_patterns(
    -- family name.
    family,
    -- prefill | decode.
    phase,
    -- RE2 pattern searched in kernels.name.
    pattern,
    -- lower wins when two families match one name.
    priority,
    -- what the family is.
    what
) AS
SELECT * FROM (VALUES
    ('trtllm_fmha_context', 'prefill', '(?i)fmha.*context', 1,
     'TensorRT-LLM / trtllm-gen FMHA context-phase kernels (fmhaSm100aKernel_...PersistentContext), also run by vLLM '
        || 'and SGLang on Blackwell'),
    ('trtllm_fmha_generation', 'decode', '(?i)(fmha.*(forgen|generation)|masked_?multi_?head_?attention|mmha)', 2,
     'TensorRT-LLM generation-phase kernels (trtllm-gen FMHA ...ForGen, masked multi-head attention)'),
    ('flashinfer_prefill', 'prefill', '(?i)(batch|single)prefill', 3,
     'FlashInfer prefill kernels (BatchPrefillWithPagedKVCache/RaggedKVCache, SinglePrefillWithKVCache)'),
    ('flashinfer_decode', 'decode', '(?i)(batch|single)decode', 4,
     'FlashInfer decode kernels (BatchDecodeWithPagedKVCache, SingleDecodeWithKVCache)'),
    ('vllm_paged_attention', 'decode', '(?i)paged_attention_(v1|v2|ll4mi)', 5,
     'vLLM''s decode-only paged attention kernels (paged_attention_v1/v2_kernel, ROCm paged_attention_ll4mi)'),
    ('named_prefill_attention', 'prefill', '(?i)(prefill|context|extend)_?attention|attention_?(prefill|context)', 6,
     'attention kernels named for prefill, context or extend'),
    ('named_decode_attention', 'decode', '(?i)decode_?attention|attention_?decode|flash_?decoding', 7,
     'attention kernels named for decode (flash-decoding)')
) AS t(family, phase, pattern, priority, what)
