-- hta_launch_calls: host calls that enqueue GPU work, joined to the operation they launched (same pid and
-- correlation id): kernel launches (CUDA runtime/driver, HIP) and async memcpy/memset. Calls with no recorded
-- GPU operation are left out. Columns: pid, tid, correlation_id, api_name, api_start_ns, api_end_ns,
-- api_dur_ns, op_kind, op_name, device_id, stream_id, op_start_ns, op_end_ns, op_dur_ns.
-- Requires: hta_gpu_ops, api_calls. No parameters.
CREATE OR REPLACE VIEW hta_launch_calls AS
SELECT a.pid, a.tid, a.correlation_id, a.name AS api_name, a.start_ns AS api_start_ns, a.end_ns AS api_end_ns,
       a.dur_ns AS api_dur_ns, o.op_kind, o.name AS op_name, o.device_id, o.stream_id,
       o.start_ns AS op_start_ns, o.end_ns AS op_end_ns, o.dur_ns AS op_dur_ns
FROM api_calls a
JOIN hta_gpu_ops o ON o.pid = a.pid AND o.correlation_id = a.correlation_id
WHERE a.name IN ('cudaLaunchKernel', 'cudaLaunchKernelExC', 'cuLaunchKernel', 'cuLaunchKernelEx',
                 'cudaMemcpyAsync', 'cudaMemsetAsync', 'hipLaunchKernel', 'hipExtModuleLaunchKernel',
                 'hipMemcpyAsync', 'hipMemsetAsync', 'hipMemcpyWithStream')
