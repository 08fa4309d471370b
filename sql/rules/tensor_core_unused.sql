-- rule: tensor_core_unused
-- title: FP32 matrix multiplies on a GPU with Tensor Cores
-- severity: auto
-- group_by: device_id
-- param min_share = 0.05: report a device when FP32 GEMM kernels take at least this fraction of its kernel busy time
-- param est_saving = 0.5: fraction of the FP32 GEMM time expected back with TF32/BF16 Tensor Cores (an estimate:
--   TF32 is typically 2-8x faster on Ampere and later)
-- impact: est_saving x the FP32 GEMM kernel time (an estimate of GPU time at stake). Where the trace has GPU
--   metrics, a kernel whose measured Tensor Active (time-weighted over its executions of at least one sampling
--   period) reaches 20 % does use Tensor Cores whatever its name says and is not reported: the busy ledger (view
--   busy_ledger) gives this rule only the FP32-named GEMMs it measured with the Tensor Cores idle.
-- summary: {gpu} spent {sum_dur_ns:time} ({gemm_share:pct} of its kernel time) in FP32 GEMM kernels that do not use
--   Tensor Cores ({sum_count:int} launches, mostly {short_name}); the GPU has Tensor Cores ({arch_note}).
-- recommendation: {advice}
-- why: FP32 GEMMs run on the CUDA cores; the same GPU runs TF32/BF16/FP16 GEMMs on Tensor Cores several times
--   faster, usually with no accuracy loss that matters for inference.
WITH names AS (
    -- one row per distinct kernel name and device: the name tests below run per name, not per execution
    SELECT device_id, name AS label, short_name, count(*) AS count, sum(dur_ns) AS dur_ns
    FROM kernels GROUP BY ALL
),
arch AS (
    -- compute capability from the device table only (nsys TARGET_INFO_GPU, Kineto deviceProperties). Without it the
    -- architecture tags of kernel names (sm80_xmma..., cutlass_80_...) give only a lower bound: a kernel built for
    -- sm_80 runs on 8.0 and every later GPU (the H200 recordings run sm80_ GEMMs on a 9.0 GPU), so it is reported
    -- as "at least", never as the GPU's compute capability
    SELECT n.device_id,
           max(d.compute_major * 10 + d.compute_minor) AS cc,
           greatest(max(TRY_CAST(nullif(regexp_extract(n.label, '(?:^|_)sm_?([0-9]{2,3})_', 1), '') AS INTEGER)),
                    max(TRY_CAST(nullif(regexp_extract(n.label, 'cutlass_([0-9]{2,3})_', 1), '') AS INTEGER)))
               AS cc_at_least
    FROM names n LEFT JOIN devices d USING (device_id)
    GROUP BY n.device_id
),
fp32 AS (
    SELECT device_id, short_name, sum(count) AS count, sum(dur_ns) AS dur_ns
    FROM names
    WHERE label NOT IN (SELECT name FROM comm_kernels)
      AND regexp_matches(label, '(?i)(gemm|matmul)')
      AND regexp_matches(label, '(?i)(ffma|simt|sgemm|f32f32_f32f32_f32)')
      AND NOT regexp_matches(label, '(?i)(tf32|tensorop|hmma|imma|bf16|f16|s1688|s16816|s884|i8)')
    GROUP BY device_id, short_name
),
measured AS (
    -- the busy ledger's judgement of these kernels, where the trace has GPU metrics (none: no rows, nothing changes)
    SELECT device_id, short_name, any_value(tensor_active_pct) AS tensor_active_pct,
           bool_or(coalesce(owner = 'tensor_core_unused', false)) AS owned
    FROM busy_ledger
    WHERE fp32_named AND cls <> 'unmeasured'
    GROUP BY device_id, short_name
),
kept AS (
    SELECT f.* FROM fp32 f LEFT JOIN measured m USING (device_id, short_name)
    WHERE m.owned IS NULL OR m.owned
),
totals AS (
    SELECT device_id, sum(dur_ns) AS gemm_ns FROM kept GROUP BY device_id
)
SELECT CAST(round($est_saving * f.dur_ns) AS BIGINT) AS impact_ns, f.device_id, f.short_name, f.count, f.dur_ns,
       t.gemm_ns * 100.0 / s.compute_busy_ns AS gemm_share, a.cc AS compute_capability,
       CASE WHEN a.cc IS NOT NULL THEN 'compute capability ' || (a.cc // 10) || '.' || (a.cc % 10)
            ELSE 'compute capability not recorded in this trace; kernels built for sm_' || a.cc_at_least
                 || ' need at least ' || (a.cc_at_least // 10) || '.' || (a.cc_at_least % 10) END
           || CASE WHEN m.tensor_active_pct IS NULL THEN ''
                   ELSE '; measured Tensor Active ' || printf('%.1f', m.tensor_active_pct) || '% during these kernels' END
           AS arch_note,
       CASE WHEN coalesce(a.cc, a.cc_at_least) >= 80
            THEN 'Allow TF32 for FP32 matmuls (torch.backends.cuda.matmul.allow_tf32 = True or '
                 || 'torch.set_float32_matmul_precision("high"); cuBLAS CUBLAS_TF32_TENSOR_OP_MATH), or run the model in '
                 || 'BF16/FP16 (torch.autocast, model.half()).'
            ELSE 'Run the model in FP16 with torch.autocast or model.half() so GEMMs use the Tensor Cores.' END AS advice
FROM kept f
JOIN totals t USING (device_id)
LEFT JOIN measured m USING (device_id, short_name)
JOIN arch a USING (device_id)
JOIN gpu_device_summary s USING (device_id)
WHERE coalesce(a.cc, a.cc_at_least) >= 70 AND t.gemm_ns >= $min_share * s.compute_busy_ns
