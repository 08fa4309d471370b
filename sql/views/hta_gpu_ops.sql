-- hta_gpu_ops: every GPU operation (kernel, memcpy, memset) with the kernel type Holistic Trace Analysis gives
-- it, so that HTA's breakdowns can be computed in SQL on any trace (nsys or Kineto).
-- kernel_type: COMMUNICATION for kernels named ^nccl.*Kernel; MEMORY for memcpy/memset rows (and kernels named
-- ^Memcpy, ^Memset, ^dma); OTHER for kernels whose name contains Memcpy or Sync; COMPUTATION for the rest
-- (HTA 0.5 hta/utils/utils.py get_kernel_type semantics, re-implemented). name is the kernel name, or
-- "Memcpy <kind>" / "Memset" as HTA labels memory operations. Columns: op_kind, device_id, stream_id, pid,
-- correlation_id, start_ns, end_ns, dur_ns, name, kernel_type, bytes. No parameters.
CREATE OR REPLACE VIEW hta_gpu_ops AS
SELECT 'kernel' AS op_kind, device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns, name,
       CASE WHEN regexp_matches(name, '^nccl.*Kernel') THEN 'COMMUNICATION'
            WHEN regexp_matches(name, '^(Memcpy|Memset|dma)') THEN 'MEMORY'
            WHEN regexp_matches(name, '^(.*Memcpy|.*Sync)') THEN 'OTHER'
            ELSE 'COMPUTATION' END AS kernel_type,
       CAST(NULL AS BIGINT) AS bytes
FROM kernels
UNION ALL
SELECT 'memcpy', device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns,
       'Memcpy ' || coalesce(copy_kind_name, 'Unknown'), 'MEMORY', bytes
FROM memcpy
UNION ALL
SELECT 'memset', device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns, 'Memset', 'MEMORY', bytes
FROM memset
