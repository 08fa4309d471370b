-- compare_kernel_samples: every kernel execution with the step that launched it. A kernel belongs to the step in
-- which its launch call started (the GPU may run it after the step's CPU range has closed); without a recorded
-- launch call its GPU start time is used. Steps are matched within the launching process, or by time alone when
-- only one process has steps (Kineto files give GPU rows the device as pid). No parameters.
CREATE OR REPLACE VIEW compare_kernel_samples(
    -- Demangled kernel name as recorded.
    name,
    -- GPU the kernel ran on.
    device_id,
    -- Kernel duration, ns.
    dur_ns,
    -- Process of the step the kernel was launched in (NULL outside any step).
    step_pid,
    -- Number of that step (NULL outside any step).
    step_number
) AS
WITH launch AS (
    SELECT k.name, k.device_id, k.pid, k.dur_ns, coalesce(a.start_ns, k.start_ns) AS launch_ns
    FROM kernels k
    LEFT JOIN api_calls a ON a.correlation_id = k.correlation_id AND a.pid = k.pid
),
step_processes AS (
    SELECT count(DISTINCT pid) AS n FROM compare_steps
)
SELECT l.name, l.device_id, l.dur_ns, s.pid AS step_pid, s.step_number
FROM launch l
CROSS JOIN step_processes p  -- one row; a scalar subquery in an outer join's condition needs DuckDB >= 1.5
LEFT JOIN compare_steps s
       ON l.launch_ns >= s.start_ns AND l.launch_ns < s.end_ns
      AND (s.pid = l.pid OR p.n = 1)
