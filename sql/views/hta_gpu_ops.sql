-- hta_gpu_ops: every GPU operation (kernel, memcpy, memset) with the kernel type Holistic Trace Analysis gives
-- it, so that HTA's breakdowns can be computed in SQL on any trace (nsys or Kineto).
-- kernel_type: COMMUNICATION for kernels named ^nccl.*Kernel; MEMORY for memcpy/memset rows (and kernels named
-- ^Memcpy, ^Memset, ^dma); OTHER for kernels whose name contains Memcpy or Sync; COMPUTATION for the rest
-- (HTA 0.5 hta/utils/utils.py get_kernel_type semantics, re-implemented). name is the kernel name, or the Kineto
-- label of a memory operation ("Memcpy DtoD (Device -> Device)", "Memset (Device)"); mem_type is HTA's memory
-- operation type ("Memcpy DtoD", "Memset"; NULL for kernels). Columns: op_kind, device_id, stream_id, pid,
-- correlation_id, start_ns, end_ns, dur_ns, name, kernel_type, mem_type, bytes. No parameters.
CREATE OR REPLACE VIEW hta_gpu_ops AS
SELECT 'kernel' AS op_kind, device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns, name,
       CASE WHEN starts_with(name, 'nccl') AND strpos(substr(name, 5), 'Kernel') > 0 THEN 'COMMUNICATION'
            WHEN starts_with(name, 'Memcpy') OR starts_with(name, 'Memset') OR starts_with(name, 'dma') THEN 'MEMORY'
            WHEN contains(name, 'Memcpy') OR contains(name, 'Sync') THEN 'OTHER'
            ELSE 'COMPUTATION' END AS kernel_type,
       CAST(NULL AS VARCHAR) AS mem_type, CAST(NULL AS BIGINT) AS bytes
FROM kernels
UNION ALL
SELECT 'memcpy', device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns,
       'Memcpy ' || coalesce(copy_kind_name, 'Unknown')
           || CASE WHEN src_kind IS NOT NULL OR dst_kind IS NOT NULL
                   THEN ' (' || coalesce(src_kind, '?') || ' -> ' || coalesce(dst_kind, '?') || ')' ELSE '' END,
       'MEMORY', 'Memcpy ' || coalesce(copy_kind_name, 'Unknown'), bytes
FROM memcpy
UNION ALL
SELECT 'memset', device_id, stream_id, pid, correlation_id, start_ns, end_ns, dur_ns,
       'Memset' || coalesce(' (' || mem_kind || ')', ''), 'MEMORY', 'Memset', bytes
FROM memset
