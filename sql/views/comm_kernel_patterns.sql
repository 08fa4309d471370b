-- comm_kernel_patterns: the communication kernel families, one row per family and pattern: which kernels move data
-- between GPUs rather than compute. A kernel counts as communication when its full demangled name matches any
-- pattern (RE2, searched anywhere in the name); the first family by `priority` names it (view comm_kernels).
-- Grain: one row per (family, pattern). No parameters. A project replaces a family's patterns or adds a family with
-- the [communication] table of its configuration (FAMILY = ["regex", ...]; docs/communication.md), which analysis
-- loads as a temporary table of the same name and columns, shadowing this view.
CREATE OR REPLACE VIEW comm_kernel_patterns(
    -- Family name (nccl, rccl, multimem, custom_allreduce, deepep, nvshmem, mscclpp).
    family,
    -- RE2 pattern searched in kernels.name.
    pattern,
    -- Lower wins when two families match one name.
    priority,
    -- What the family is.
    what
) AS
SELECT * FROM (VALUES
    ('nccl', '(?i)nccl', 1,
     'NCCL collectives and point-to-point (ncclKernel_*, ncclDevKernel_*); RCCL keeps these names on ROCm'),
    ('rccl', '(?i)rccl', 2, 'RCCL kernels named after RCCL itself'),
    ('mscclpp', '(?i)msccl', 3, 'MSCCL / MSCCL++ collective kernels'),
    ('nvshmem', '(?i)nvshmem', 4, 'NVSHMEM device-initiated communication (nvshmemi_*, nvshmem_*)'),
    ('deepep', '(?i)deep_?ep', 5, 'DeepEP expert-parallel dispatch/combine (deep_ep::intranode/internode/internode_ll)'),
    ('multimem', '(?i)multimem', 6,
     'NVLS multimem all-reduce over symmetric memory (PyTorch symm_mem multimem_all_reduce_kernel, vLLM)'),
    ('custom_allreduce',
     '(?i)(cross_device_reduce|custom_?all_?reduce|one_?shot_?all_?reduce|two_?shot_?all_?reduce|all_?reduce_?fusion|lamport)',
     7, 'peer-to-peer all-reduce kernels of serving engines: vLLM cross_device_reduce_1stage/2stage, PyTorch '
        || 'symmetric-memory one/two-shot, TensorRT-LLM / FlashInfer allreduce_fusion and Lamport kernels')
) AS t(family, pattern, priority, what)
