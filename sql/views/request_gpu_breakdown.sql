-- request_gpu_breakdown: what filled (and what left empty) the GPU while each request was in flight. Two
-- dimensions per request (request_gpu's requests, over [start_ns, end_ns]):
-- * kernel_class: GPU operation time by class, clipped to the request (a sum over streams, not a union):
--   attention (sdpa, flash, fmha, attention), gemm (gemm, gemv, matmul, cuBLAS/cuBLASLt incl. nvjet, CUTLASS,
--   xmma, splitK reduce), comm (communication kernels, view comm_kernels), norm_softmax, elementwise, reduction, other
--   kernels, copy (memcpy, memset);
-- * idle_cause: GPU idle time inside the request by the cause gpu_idle_causes gives each gap (host, launch, sync,
--   copy, dependency, unknown), clipped to the request.
-- The work is shared by every request in flight at the time (batched steps): these are the GPU's figures during
-- the request, not its own share. Grain: one row per (request, dimension, label). No parameters.
CREATE OR REPLACE VIEW request_gpu_breakdown(
    request_id,
    -- kernel_class | idle_cause.
    dimension,
    -- the class or the cause.
    label,
    -- time inside the request, ns, and as a share of its end-to-end latency (0-100).
    time_ns, pct
) AS
WITH req AS (
    SELECT request_id, start_ns, end_ns, e2e_ns FROM request_gpu
),
ops AS (
    SELECT start_ns, end_ns,
           CASE WHEN op_class = 'copy' THEN 'copy'
                WHEN is_comm THEN 'comm'
                WHEN regexp_matches(label, '(?i)(sdpa|flash|fmha|attention|attn)') THEN 'attention'
                WHEN regexp_matches(label, '(?i)(gemm|gemv|matmul|nvjet|cublas|cutlass|xmma|splitkreduce)') THEN 'gemm'
                WHEN regexp_matches(label, '(?i)(norm|softmax)') THEN 'norm_softmax'
                WHEN regexp_matches(label, '(?i)elementwise') THEN 'elementwise'
                WHEN regexp_matches(label, '(?i)reduce') THEN 'reduction'
                ELSE 'other' END AS label
    FROM gpu_ops
),
classes AS (
    SELECT r.request_id, 'kernel_class' AS dimension, o.label,
           sum(least(o.end_ns, r.end_ns) - greatest(o.start_ns, r.start_ns)) AS time_ns, any_value(r.e2e_ns) AS e2e
    FROM req r
    JOIN ops o ON o.start_ns < r.end_ns AND o.end_ns > r.start_ns
    GROUP BY r.request_id, o.label
),
idle AS (
    SELECT r.request_id, 'idle_cause' AS dimension, g.cause AS label,
           sum(least(g.end_ns, r.end_ns) - greatest(g.start_ns, r.start_ns)) AS time_ns, any_value(r.e2e_ns) AS e2e
    FROM req r
    JOIN gpu_idle_causes g ON g.start_ns < r.end_ns AND g.end_ns > r.start_ns
    GROUP BY r.request_id, g.cause
)
SELECT request_id, dimension, label, time_ns, 100.0 * time_ns / nullif(e2e, 0) FROM classes
UNION ALL
SELECT request_id, dimension, label, time_ns, 100.0 * time_ns / nullif(e2e, 0) FROM idle
