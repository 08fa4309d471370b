-- hta_kernel_launch_stats: per launched GPU operation, HTA's kernel launch statistics: the launch call's CPU
-- duration, the operation's GPU duration and the launch delay (GPU start - call end, 0 when negative), with
-- HTA's three flags: short_kernel (GPU shorter than its launch call, for calls up to the runtime cutoff),
-- runtime_outlier (call longer than the cutoff), launch_delay_outlier (delay above its cutoff).
-- Parameters: hta_runtime_cutoff_ns = 50000, hta_launch_delay_cutoff_ns = 100000 (HTA: 50 µs, 100 µs).
-- Columns: pid, tid, correlation_id, api_name, op_kind, op_name, device_id, stream_id, cpu_dur_ns, gpu_dur_ns,
-- launch_delay_ns, short_kernel, runtime_outlier, launch_delay_outlier. Requires: hta_launch_calls.
CREATE OR REPLACE VIEW hta_kernel_launch_stats AS
SELECT pid, tid, correlation_id, api_name, op_kind, op_name, device_id, stream_id,
       api_dur_ns AS cpu_dur_ns, op_dur_ns AS gpu_dur_ns,
       greatest(op_start_ns - api_end_ns, 0) AS launch_delay_ns,
       api_dur_ns <= coalesce(getvariable('hta_runtime_cutoff_ns'), 50000) AND op_dur_ns < api_dur_ns AS short_kernel,
       api_dur_ns > coalesce(getvariable('hta_runtime_cutoff_ns'), 50000) AS runtime_outlier,
       greatest(op_start_ns - api_end_ns, 0) > coalesce(getvariable('hta_launch_delay_cutoff_ns'), 100000)
           AS launch_delay_outlier
FROM hta_launch_calls
