-- rule: python_hot_frames
-- title: Hottest Python code (no GPU work recorded)
-- severity: auto
-- group_by: counted
-- param min_samples = 20: fewer Python samples than this (on a CPU, else of any state) are too few to profile
--   (at 100 Hz, 0.2 s of one thread)
-- param top = 10: functions listed as evidence, most self samples first
-- param focus_pct = 50: the finding is medium when the hottest function holds at least this share of the on-CPU
--   samples (one place explains most of the time), low otherwise; info when too few samples were on a CPU and
--   samples of any state (mostly sleeping or waiting threads) are counted instead
-- impact: CPU time, not GPU time (there is none): the function's self samples times the sampling period, the time
--   the samples say it ran (also the cpu_ns column). The rule reads only traces without GPU work (no kernels,
--   copies or memsets), so this never competes with GPU figures; where there is GPU work, python_gpu_idle and
--   python_host_bound_steps place the same samples against the GPU's idle time instead.
-- summary: No GPU work was recorded; Python time went {lead} {function} ({file_name}:{line}): it was the running
--   code in {self_share_pct:pct} of {basis_samples:int} {counted} Python samples and on the stack in
--   {total_share_pct:pct}, about {cpu_ns:time}.
-- recommendation: Start with {function} ({file_name}:{line}): make it do less work per call, call it less often, or
--   move the hot loop into a vectorised or compiled library; the evidence lists the next functions by self samples
--   (running code) and total samples (on the stack, including callees). If the workload was meant to use the GPU,
--   check that it found one (CUDA_VISIBLE_DEVICES, the framework's device setting).
-- why: A sampling profile's flat view: the code most often running is where CPU time goes, and without GPU work
--   the CPU is what the workload's time was spent on. Self share says where to optimise, total share which caller
--   to restructure. Needs a bundle from `inferscope record` (with or without nsys).
WITH gpu AS (
    SELECT count(*) AS ops FROM gpu_ops
),
rate AS (
    SELECT coalesce(max(try_cast(value AS DOUBLE)) FILTER (WHERE key = 'sampler.rate_hz'), 100.0) AS hz
    FROM trace_meta
),
frames AS (
    SELECT *, CASE WHEN all_cpu_samples >= $min_samples THEN 'on-CPU' ELSE 'any-state' END AS counted
    FROM python_hot_frames
    WHERE all_samples >= $min_samples
),
counted AS (
    SELECT function, file, line, counted, threads,
           CASE WHEN counted = 'on-CPU' THEN self_cpu_samples ELSE self_samples END AS self_basis,
           CASE WHEN counted = 'on-CPU' THEN total_cpu_samples ELSE total_samples END AS total_basis,
           CASE WHEN counted = 'on-CPU' THEN all_cpu_samples ELSE all_samples END AS basis_samples,
           self_samples, total_samples, self_cpu_samples, total_cpu_samples
    FROM frames
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY self_basis DESC, total_basis DESC, function, file) AS rank,
           max(self_basis) OVER () * 100.0 / basis_samples AS top_share_pct
    FROM counted
)
SELECT CAST(r.self_basis * 1e9 / rate.hz AS BIGINT) AS impact_ns, CAST(r.self_basis * 1e9 / rate.hz AS BIGINT) AS cpu_ns,
       r.rank, r.function, r.file, regexp_extract(r.file, '[^/]+$') AS file_name, r.line,
       r.self_basis * 100.0 / r.basis_samples AS self_share_pct,
       r.total_basis * 100.0 / r.basis_samples AS total_share_pct,
       r.self_basis AS self_counted, r.total_basis AS total_counted, r.basis_samples, r.counted,
       r.self_samples, r.total_samples, r.self_cpu_samples, r.total_cpu_samples, r.threads,
       CASE WHEN r.top_share_pct >= 50 THEN 'mostly to' ELSE 'in the largest share to' END AS lead,
       CASE WHEN r.counted <> 'on-CPU' THEN 'info' WHEN r.top_share_pct >= $focus_pct THEN 'medium'
            ELSE 'low' END AS severity
FROM ranked r
CROSS JOIN rate
CROSS JOIN gpu
WHERE gpu.ops = 0 AND r.rank <= $top
ORDER BY r.rank
