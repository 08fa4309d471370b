-- rule: tensor_cores_idle
-- title: Tensor Cores idle during GEMM kernels
-- severity: auto
-- group_by: device_id
-- param min_share = 0.05: report a device when such GEMM kernels take at least this fraction of its kernel busy time
-- param est_saving = 0.5: fraction of the idle-Tensor-Core GEMM time expected back once the math runs on Tensor
--   Cores (TF32/BF16/FP16; an estimate, as in tensor_core_unused)
-- impact: the GEMM kernels the busy ledger (view busy_ledger) gives to this rule: measured Tensor Active
--   (time-weighted over their executions) under 20 % while some other unit worked (the ledger's header says why 20;
--   GEMMs that no unit worked in are busy_not_working's, FP32-named ones tensor_core_unused's, so the same time is
--   never counted twice): est_saving x their busy time in the ledger x (1 - Tensor Active / 100). Only executions
--   at least one sampling period long are measured.
-- summary: {gpu} ran {sum_dur_ns:time} of GEMM kernels with the Tensor Cores almost idle ({n} kernel{s}); the
--   costliest, {short_name}, ran {count:int} times for {dur_ns:time} at Tensor Active {tensor_active_pct:.1f}%
--   (SMs Active {sm_active_pct:.0f}%).
-- recommendation: Make the GEMMs run on Tensor Cores: allow TF32 for FP32 matmuls
--   (torch.set_float32_matmul_precision("high")), run the model in BF16/FP16 (torch.autocast), keep matrix
--   dimensions multiples of 8/16 so cuBLAS picks Tensor Core kernels, and check that custom GEMM kernels use MMA
--   instructions.
-- why: Matrix multiplies are the bulk of inference FLOPs; on GPUs with Tensor Cores, GEMMs that leave them idle run
--   several times slower than they could. Kernel names do not always say which units a kernel uses; the Tensor
--   Active counter does.
SELECT CAST(round($est_saving * l.busy_ns * (1 - l.tensor_active_pct / 100)) AS BIGINT) AS impact_ns, l.device_id,
       l.short_name, l.count, l.dur_ns, l.busy_ns, l.tensor_active_pct, l.sm_active_pct, l.sm_issue_pct
FROM busy_ledger l
JOIN gpu_device_summary s USING (device_id)
WHERE l.owner = 'tensor_cores_idle'
QUALIFY sum(l.dur_ns) OVER (PARTITION BY l.device_id) >= $min_share * s.compute_busy_ns
