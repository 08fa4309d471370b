-- rule: idle_gap_attribution
-- title: Why the GPU sat idle
-- severity: auto
-- group_by: ledger_owner
-- param min_gap_ns = 1000: gaps shorter than this (ns) are ignored ...
-- param min_gap_step_frac = 0.0: ... and, when the process has steps, gaps shorter than this fraction of its
--   median step time (0 = off)
-- param min_share = 0.02: report a cause when its gaps add up to at least this fraction of the device's active span
-- impact: the idle time of the gaps the idle ledger (view idle_ledger) gives to no more specific rule: library or
--   module loads and JIT compilation, profiler overhead, cross-stream waits, work queued with no recorded wait, CPU
--   work without Python samples, and unexplained gaps. Waits, copies, launch overhead and sampled Python code
--   are reported by sync_stall, the copy rules, launch_overhead and python_gpu_idle, so each idle nanosecond is
--   counted once. One finding for all devices and causes; the rows are the causes per device, by their evidence.
-- summary: The GPU idle time inside the active span{s_dev} splits into {breakdown} (the ledger; sums to the idle
--   time). Not reported by another finding: {impact:time}; the largest part is {label} on GPU {device_id}
--   ({cause_ns:time}): {meaning}, {row_ns:time} in {gaps:int} gap{gap_s} (the longest {longest_ns:time}).
-- recommendation: {advice}
-- why: An idle GPU inside the run is waiting for something; the evidence around each gap (the API call that
--   blocked, the annotation range or framework operator the launching thread was in, its Python samples, a
--   library load, a cross-stream wait) names what, and each gap gets exactly one cause so that the causes add up
--   to the idle time.
WITH ledger AS (
    SELECT l.*
    FROM idle_ledger l
    LEFT JOIN step_summary ss USING (pid)
    WHERE l.dur_ns >= greatest($min_gap_ns, coalesce($min_gap_step_frac * ss.p50_ns, 0))
),
-- the whole breakdown, every gap of every device (not only the reported ones), so that it sums to the idle time
totals AS (
    SELECT cause, sum(dur_ns) AS ns FROM idle_ledger GROUP BY cause
),
breakdown AS (
    SELECT string_agg(
               CASE cause WHEN 'sync' THEN 'host waits' WHEN 'copy' THEN 'copy calls'
                          WHEN 'load' THEN 'library load/JIT' WHEN 'profiler' THEN 'profiler overhead'
                          WHEN 'dependency' THEN 'cross-stream waits' WHEN 'queued' THEN 'queued work'
                          WHEN 'launch' THEN 'launch overhead' WHEN 'host' THEN 'host CPU work'
                          ELSE 'unknown' END
               || ' ' || CASE WHEN ns >= 1e9 THEN printf('%.3g s', ns / 1e9)
                              WHEN ns >= 1e6 THEN printf('%.3g ms', ns / 1e6)
                              WHEN ns >= 1e3 THEN printf('%.3g µs', ns / 1e3)
                              ELSE printf('%d ns', CAST(ns AS BIGINT)) END,  -- HUGEINT prints as text in DuckDB 1.2
               ', ' ORDER BY ns DESC, cause) AS breakdown,
           (SELECT count(DISTINCT device_id) FROM idle_ledger) AS devices
    FROM (SELECT * FROM totals UNION ALL
          SELECT 'unknown', 0 WHERE NOT EXISTS (SELECT 1 FROM totals WHERE cause = 'unknown'))
),
owned AS (
    SELECT device_id, cause,
           CASE cause
               WHEN 'host' THEN coalesce(nvtx_label(nvtx_range),
                                         'CPU samples mostly in ' || CASE WHEN cpu_samples >= 2 THEN cpu_function END,
                                         '(no annotation range or CPU samples name it)')
               WHEN 'load' THEN evidence_name
               WHEN 'profiler' THEN evidence_name
               WHEN 'dependency' THEN coalesce(nvtx_label(culprit_range), evidence_name)
               WHEN 'copy' THEN coalesce(nvtx_label(culprit_range), next_api_name)
               ELSE ''
           END AS evidence,
           dur_ns, pid, tid, start_ns, end_ns
    FROM ledger
    WHERE owner = 'idle_gap_attribution'
),
per_cause AS (
    SELECT device_id, cause, sum(dur_ns) AS cause_ns FROM owned GROUP BY device_id, cause
),
-- ranges numbered per iteration ("IO 190", "IO 191", ...) are one piece of code: grouped by the name without its
-- numbers, shown by the costliest one's name
keyed AS (
    SELECT *, regexp_replace(evidence, '[0-9]+', '#', 'g') AS evidence_key FROM owned
),
rows_ AS (  -- of tied gaps, the earliest speaks for the rest (the same choice every run)
    SELECT o.device_id, o.cause, arg_max(o.evidence, (o.dur_ns, -o.start_ns)) AS evidence,
           count(DISTINCT o.evidence) - 1 AS more_like_it, sum(o.dur_ns) AS ns, count(*) AS gaps,
           max(o.dur_ns) AS longest_ns,
           arg_max(o.start_ns, (o.dur_ns, -o.start_ns)) AS start_ns, arg_max(o.end_ns, (o.dur_ns, -o.start_ns)) AS end_ns,
           arg_max(o.pid, (o.dur_ns, -o.start_ns)) AS pid, arg_max(o.tid, (o.dur_ns, -o.start_ns)) AS tid, any_value(p.cause_ns) AS cause_ns
    FROM keyed o JOIN per_cause p USING (device_id, cause)
    GROUP BY o.device_id, o.cause, o.evidence_key
)
SELECT r.ns AS impact_ns, r.ns AS row_ns, r.start_ns, r.end_ns, r.device_id, r.pid, r.tid, r.cause, r.evidence,
       r.more_like_it, r.gaps,
       r.longest_ns, r.cause_ns, 'idle_gap_attribution' AS ledger_owner, b.breakdown,
       CASE WHEN b.devices > 1 THEN ' of the ' || b.devices || ' GPUs' ELSE '' END AS s_dev,
       CASE WHEN r.gaps = 1 THEN '' ELSE 's' END AS gap_s,
       CASE r.cause
           WHEN 'host' THEN 'host CPU work' WHEN 'load' THEN 'library load or JIT compilation'
           WHEN 'profiler' THEN 'profiler overhead' WHEN 'dependency' THEN 'cross-stream waits'
           WHEN 'queued' THEN 'queued work' WHEN 'copy' THEN 'copy calls' ELSE 'unexplained idle'
       END AS label,
       CASE r.cause
           WHEN 'host' THEN 'the launching thread was busy outside CUDA calls'
                            || CASE WHEN r.evidence LIKE '(%' THEN ' ' || r.evidence
                                    WHEN r.evidence LIKE 'CPU samples%' THEN ', ' || r.evidence
                                    ELSE ', inside ' || r.evidence END
                            || CASE WHEN r.more_like_it > 0
                                    THEN ' (and ' || r.more_like_it || ' more range' || CASE WHEN r.more_like_it > 1
                                         THEN 's' ELSE '' END || ' named like it)' ELSE '' END
           WHEN 'load' THEN 'the launching thread was loading or compiling code (' || r.evidence || ')'
           WHEN 'profiler' THEN 'the profiler was flushing its buffers (' || r.evidence || ')'
           WHEN 'dependency' THEN 'the next work was queued but waited on an event of another stream ('
                                  || r.evidence || ')'
           WHEN 'queued' THEN 'the next work was already queued, with no cross-stream wait recorded: the GPU''s own '
                              || 'launch latency between back-to-back work, or a wait the trace does not show'
           WHEN 'copy' THEN 'the host was inside the call issuing the next copy (' || r.evidence || ')'
           ELSE 'the next work has no recorded launch call, so nothing in the trace says why'
       END AS meaning,
       CASE r.cause
           WHEN 'host' THEN 'Move the CPU work'
                            || CASE WHEN r.evidence LIKE '(%' THEN '' ELSE ' (' || r.evidence || ')' END
                            || ' off the launching thread or overlap it with '
                            || 'GPU work (prepare the next batch while the GPU runs, DataLoader workers); record '
                            || 'Python samples (inferscope record) to name the code.'
           WHEN 'load' THEN 'Load and compile before the measured work: warm up once (or cache compiled kernels, '
                            || 'CUDA_MODULE_LOADING=EAGER for latency-critical starts) and profile a steady step.'
           WHEN 'profiler' THEN 'Profiler overhead is not the workload''s: profile fewer steps or a shorter window.'
           WHEN 'dependency' THEN 'The critical path runs on another stream: check what the waited-on stream '
                                  || 'runs (copies, communication) and whether the wait is needed.'
           WHEN 'queued' THEN 'Nothing on the host to fix for these gaps; fewer, larger kernels (fusion, CUDA '
                              || 'graphs) shorten the GPU-side gaps between them.'
           WHEN 'copy' THEN 'Issue copies asynchronously from pinned memory ahead of use, on a separate stream.'
           ELSE 'Trace the CUDA runtime/driver API (nsys -t cuda) to see what launched this work.'
       END AS advice
FROM rows_ r
CROSS JOIN breakdown b
JOIN gpu_device_summary d USING (device_id)
WHERE r.cause_ns >= $min_share * d.span_ns
