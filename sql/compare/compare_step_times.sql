-- compare_step_times: the time each step takes, which compare's step time and throughput are judged on. A step's
-- CPU range alone understates it when the host runs ahead of the GPU (CUDA-graph replays, no sync inside the
-- step): the range closes after the launches while the GPU still works on them. So a step completes at the later of
-- its range end and the end of the last GPU operation (kernel, copy or memset) launched in it, and its time runs
-- from its start, or from the previous step's completion when that is later (the GPU was still busy with the
-- previous step), to its completion. Back to back, the times add up to the span from the first step's start to
-- the last one's completion. GPU work belongs to the step its launch call started in, matched as in
-- compare_kernel_samples. Grain: one row per step, as compare_steps. No parameters.
CREATE OR REPLACE VIEW compare_step_times(
    -- Process that ran the step.
    pid,
    -- Position of the step in its process, as compare_steps.
    step_number,
    -- The step range's start and end, ns.
    start_ns, end_ns,
    -- End of the last GPU operation launched in the step, ns (NULL when it launched none).
    gpu_end_ns,
    -- When the step completed: the later of end_ns and gpu_end_ns, ns.
    completion_ns,
    -- Step time: completion_ns minus the later of start_ns and the previous step's completion_ns, ns.
    dur_ns
) AS
WITH ops AS (
    SELECT pid, correlation_id, start_ns, end_ns FROM kernels
    UNION ALL
    SELECT pid, correlation_id, start_ns, end_ns FROM memcpy
    UNION ALL
    SELECT pid, correlation_id, start_ns, end_ns FROM memset
),
launch AS (
    SELECT o.pid, o.end_ns, coalesce(a.start_ns, o.start_ns) AS launch_ns
    FROM ops o
    LEFT JOIN api_calls a ON a.correlation_id = o.correlation_id AND a.pid = o.pid
),
step_processes AS (
    SELECT count(DISTINCT pid) AS n FROM compare_steps
),
gpu_end AS (
    SELECT s.pid, s.step_number, max(l.end_ns) AS gpu_end_ns
    FROM compare_steps s
    CROSS JOIN step_processes p
    JOIN launch l
      ON l.launch_ns >= s.start_ns AND l.launch_ns < s.end_ns
     AND (s.pid = l.pid OR p.n = 1)
    GROUP BY s.pid, s.step_number
),
done AS (
    SELECT s.pid, s.step_number, s.start_ns, s.end_ns, g.gpu_end_ns,
           greatest(s.end_ns, coalesce(g.gpu_end_ns, s.end_ns)) AS completion_ns
    FROM compare_steps s
    LEFT JOIN gpu_end g USING (pid, step_number)
)
SELECT pid, step_number, start_ns, end_ns, gpu_end_ns, completion_ns,
       greatest(completion_ns - greatest(start_ns, coalesce(lag(completion_ns) OVER w, start_ns)), 0) AS dur_ns
FROM done
WINDOW w AS (PARTITION BY pid ORDER BY start_ns, step_number)
