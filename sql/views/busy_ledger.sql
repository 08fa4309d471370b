-- busy_ledger: one owner per busy nanosecond of a GPU with hardware metrics, the counterpart of the idle ledger
-- (idle_ledger): kernel time counted as "busy" split into what the counters say happened meanwhile. Each kernel
-- name's measured executions (at least one sampling period long, with samples; gpu_metrics_by_kernel) are judged
-- together, by their time-weighted means, in this precedence (first match wins):
--   tensor_idle  a GEMM named as an FP32 SIMT GEMM (tensor_core_unused's name test) with Tensor Active under 20 %:
--                the name says why the Tensor Cores sat idle (owner tensor_core_unused);
--   stalled      resident but stalled: the busiest unit (SM issue slots, Tensor pipes, DRAM read or write, % of
--                peak) stayed under 30 %: no unit worked, whatever the kernel's kind (owner busy_not_working). A fed
--                kernel keeps its bounding unit well above half of peak (the bf16 GEMMs of the H200 metrics export:
--                Tensor Active 94 %; 66 % while cuBLAS warms up); under 30 % only latency, too little parallelism
--                or empty SMs explain it. Stalled comes before Tensor Cores idle: a GEMM that does no work on any
--                unit is not helped by Tensor Cores;
--   tensor_idle  any other GEMM kernel (gemm, matmul, nvjet, xmma, wgmma, hmma, mma, cutlass) with Tensor Active
--                under 20 %: its math ran on the CUDA cores (owner tensor_cores_idle). A Tensor Core GEMM keeps
--                the pipes busy most of its time; a SIMT GEMM reads 0;
--   working      the rest: some unit ran near its peak. clock_drop reports the part of it run at a lowered clock;
--   unmeasured   executions shorter than one sampling period (their samples are shared with their neighbours),
--                without samples, and communication kernels (view comm_kernels: they wait on the interconnect by
--                design, and nccl_exposed reports them).
-- busy_ns is each row's kernel time scaled to the device's kernel busy time (an interval union: kernels running
-- concurrently on several streams add up in kernel time but not on the GPU), so a device's rows sum to its compute
-- busy time (gpu_device_summary.compute_busy_ns), and with idle_ledger's gaps they never count one nanosecond
-- twice. The rules that own a class report at most its busy_ns.
-- Grain: one row per (device_id, short_name, cls), on GPUs with metrics only (no rows without GPU metrics).
-- Columns: device_id, short_name, cls, owner, count (executions), dur_ns (kernel time), busy_ns, work_pct,
-- sm_active_pct, sm_issue_pct, tensor_active_pct, dram_read_pct, dram_write_pct, clock_mhz, fp32_named, gemm.
-- No parameters.
CREATE OR REPLACE VIEW busy_ledger AS
WITH per_exec AS (
    SELECT device_id, kernel_no, short_name, any_value(name) AS name, any_value(dur_ns) AS dur_ns,
           bool_or(NOT below_period AND coverage > 0) AS measured,
           max(mean_value) FILTER (WHERE metric_id = 'sm_active_pct') AS sm_active,
           max(mean_value) FILTER (WHERE metric_id = 'sm_issue_pct') AS sm_issue,
           max(mean_value) FILTER (WHERE metric_id = 'tensor_active_pct') AS tensor,
           max(mean_value) FILTER (WHERE metric_id = 'dram_read_bw_pct') AS dram_read,
           max(mean_value) FILTER (WHERE metric_id = 'dram_write_bw_pct') AS dram_write,
           max(mean_value) FILTER (WHERE metric_id = 'gpc_clock_mhz') AS clock
    FROM gpu_metrics_by_kernel
    GROUP BY device_id, kernel_no, short_name
),
tagged AS (
    SELECT *,
           measured AND (sm_issue IS NOT NULL OR tensor IS NOT NULL)
               AND name NOT IN (SELECT name FROM comm_kernels) AS judged,
           regexp_matches(name, '(?i)(gemm|matmul|nvjet|xmma|wgmma|hmma|_mma|cutlass)') AS gemm,
           regexp_matches(name, '(?i)(gemm|matmul)') AND regexp_matches(name, '(?i)(ffma|simt|sgemm|f32f32_f32f32_f32)')
               AND NOT regexp_matches(name, '(?i)(tf32|tensorop|hmma|imma|bf16|f16|s1688|s16816|s884|i8)')
               AS fp32_named
    FROM per_exec
),
per_name AS (
    SELECT device_id, short_name, judged, count(*) AS count, CAST(sum(dur_ns) AS BIGINT) AS dur_ns,
           bool_or(gemm) AS gemm, bool_or(fp32_named) AS fp32_named,
           sum(sm_active * dur_ns) / sum(dur_ns) FILTER (WHERE sm_active IS NOT NULL) AS sm_active_pct,
           sum(sm_issue * dur_ns) / sum(dur_ns) FILTER (WHERE sm_issue IS NOT NULL) AS sm_issue_pct,
           sum(tensor * dur_ns) / sum(dur_ns) FILTER (WHERE tensor IS NOT NULL) AS tensor_active_pct,
           sum(dram_read * dur_ns) / sum(dur_ns) FILTER (WHERE dram_read IS NOT NULL) AS dram_read_pct,
           sum(dram_write * dur_ns) / sum(dur_ns) FILTER (WHERE dram_write IS NOT NULL) AS dram_write_pct,
           sum(clock * dur_ns) / sum(dur_ns) FILTER (WHERE clock IS NOT NULL) AS clock_mhz
    FROM tagged
    GROUP BY device_id, short_name, judged
),
judged AS (
    SELECT *,
           CASE WHEN judged THEN greatest(coalesce(sm_issue_pct, 0), coalesce(tensor_active_pct, 0),
                                          coalesce(dram_read_pct, 0), coalesce(dram_write_pct, 0)) END AS work_pct
    FROM per_name
),
classed AS (
    SELECT *,
           CASE
               WHEN NOT judged THEN 'unmeasured'
               WHEN fp32_named AND tensor_active_pct < 20 THEN 'tensor_idle'
               WHEN work_pct < 30 THEN 'stalled'
               WHEN gemm AND tensor_active_pct < 20 THEN 'tensor_idle'
               ELSE 'working'
           END AS cls
    FROM judged
),
scale AS (
    SELECT device_id, compute_busy_ns / nullif(kernel_time_ns, 0) AS factor
    FROM gpu_device_summary
)
SELECT c.device_id, c.short_name, c.cls,
       CASE c.cls
           WHEN 'tensor_idle' THEN CASE WHEN c.fp32_named THEN 'tensor_core_unused' ELSE 'tensor_cores_idle' END
           WHEN 'stalled' THEN 'busy_not_working'
       END AS owner,
       c.count, c.dur_ns, CAST(round(c.dur_ns * coalesce(s.factor, 1)) AS BIGINT) AS busy_ns, c.work_pct,
       c.sm_active_pct, c.sm_issue_pct, c.tensor_active_pct, c.dram_read_pct, c.dram_write_pct, c.clock_mhz,
       c.fp32_named, c.gemm
FROM classed c
LEFT JOIN scale s USING (device_id)
