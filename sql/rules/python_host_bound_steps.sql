-- rule: python_host_bound_steps
-- title: Python code that made steps host-bound
-- severity: auto
-- steady_state: true
-- group_by: pid, function, file, line
-- param max_busy_pct = 50: a step is host-bound when its process's GPUs were busy less than this share of it
-- param min_samples = 2: a step is attributed only when its launching threads have at least this many Python
--   samples inside it
-- impact: none (0): for each host-bound step, its GPU-idle time (wall minus GPU busy) times the share of its
--   launching threads' samples that were in this code (idle_ns), for the steps where this code was the most
--   sampled; that idle is owned gap by gap by the idle ledger's rules (python_gpu_idle names the code per gap), so
--   it is shown, not counted again.
-- summary: {n} host-bound step{s} of process {pid} spent most of their Python samples in {function}
--   ({file_name}:{line}) on {thread_name}: {share_pct:pct} of the samples in the costliest, {name}
--   ({dur_ns:time}, GPU busy {gpu_busy_pct:pct}); {sum_idle_ns:time} of GPU-idle step time.
-- recommendation: Move {function} ({file_name}:{line}) out of the step loop or overlap it with GPU work (prepare
--   step N+1 while step N runs on the GPU), batch it, or hand it to another thread or process; if its samples are
--   mostly not on a CPU, find what the thread waits for.
-- why: A step whose GPU work is a small part of its wall time is paced by the CPU; the Python samples on the
--   threads that launch its GPU work show which code. Needs a bundle from `inferscope record` and step markers.
WITH flagged AS (
    SELECT step_id, pid, tid, name, start_ns, end_ns, dur_ns, gpu_busy_ns, gpu_busy_pct
    FROM steps
    WHERE gpu_busy_pct < $max_busy_pct
),
launchers AS (  -- the thread that opened the step, and every thread that launched GPU work during it
    SELECT step_id, pid, tid FROM flagged
    UNION
    SELECT f.step_id, f.pid, l.api_tid
    FROM flagged f
    JOIN cuda_launches l ON l.pid = f.pid AND l.api_start_ns >= f.start_ns AND l.api_start_ns < f.end_ns
    WHERE l.api_tid IS NOT NULL
),
hits AS (
    SELECT f.step_id, s.code_function, s.code_file, s.code_line, any_value(s.thread_name) AS thread_name,
           count(*) AS samples
    FROM flagged f
    JOIN launchers t USING (step_id)
    JOIN python_samples s ON s.pid = t.pid AND s.tid = t.tid AND s.ts_ns >= f.start_ns AND s.ts_ns < f.end_ns
    GROUP BY f.step_id, s.code_function, s.code_file, s.code_line
),
ranked AS (
    SELECT *, sum(samples) OVER (PARTITION BY step_id) AS step_samples,
           row_number() OVER (PARTITION BY step_id ORDER BY samples DESC, code_file, code_line) AS rank
    FROM hits
)
SELECT 0 AS impact_ns, (f.dur_ns - f.gpu_busy_ns) * r.samples // r.step_samples AS idle_ns, f.start_ns, f.end_ns,
       f.dur_ns, f.gpu_busy_ns, f.gpu_busy_pct, f.step_id, f.name, f.pid, f.tid, r.thread_name,
       r.code_function AS function, r.code_file AS file, regexp_extract(r.code_file, '[^/]+$') AS file_name,
       r.code_line AS line, r.samples, r.step_samples, r.samples * 100.0 / r.step_samples AS share_pct
FROM ranked r
JOIN flagged f USING (step_id)
WHERE r.rank = 1 AND r.step_samples >= $min_samples
