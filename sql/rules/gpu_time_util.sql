-- rule: gpu_time_util
-- title: Stretches of low GPU time utilisation
-- severity: auto
-- group_by: device_id, pid
-- param threshold_pct = 50: report chunks whose in-use share is below this percentage (nsys: threshold=50)
-- param chunks = 30: number of equal chunks each device's active span is cut into, 1 to 1000 (nsys: chunks=30)
-- parity: nsys analyze gpu-low-util (2022.4; gpu_time_util in current nsys), same computation: per process and
--   device, the active span of its operations (plus in-span profiling overhead, as gpu_gaps) is cut into chunks of
--   ceil(span / chunks) ns (the last one clipped); a chunk's in-use % is the summed overlap of the operations with
--   it / its length * 100 (concurrent operations add up, so it can exceed 100); chunks below the threshold are
--   kept and consecutive ones merged with a length-weighted average rounded to 0.1. Differences: no 50-row cap,
--   and empty chunks of different processes/devices are never merged (nsys groups them by NULL keys).
-- impact: none (0): the idle time of the low stretches (idle_ns: length * (100 - in-use %) / 100) is owned,
--   gap by gap, by the rules of the idle ledger (view idle_ledger: idle_gap_attribution, sync_stall,
--   launch_overhead, ...), which say why; this rule lists the stretches as nsys does without counting them again.
-- summary: {gpu} ({who}) spent {sum_dur_ns:time} in {n} stretch{es} below {p_threshold_pct}% time
--   utilisation, {sum_idle_ns:time} of it idle; the costliest ran at {in_use_pct}% for {dur_ns:time}.
-- recommendation: Find what the host did in the low stretches (idle_gap_attribution, CPU samples, OS runtime
--   calls); startup, data loading and synchronisation are the usual suspects.
-- why: Low time utilisation means the GPU waited for the host for a large part of that stretch.
WITH ops AS (  -- rows without a process id keep one key (-1, never a real pid), so the joins below keep them
    SELECT coalesce(pid, -1) AS pid, device_id, context_id, start_ns, end_ns FROM gpu_ops WHERE start_ns > 0
),
span AS (
    SELECT pid, device_id, min(start_ns) AS first_ns, max(end_ns) AS last_ns, min(context_id) AS context_id
    FROM ops GROUP BY pid, device_id
),
overhead AS (
    SELECT o.pid, s.device_id, s.context_id, o.start_ns, o.end_ns
    FROM profiler_overhead o
    JOIN span s ON s.pid = o.pid AND o.start_ns > s.first_ns AND o.end_ns < s.last_ns
    WHERE o.name IN ('CUDA profiling data flush overhead', 'CUDA profiling stop overhead', 'CUDA profiling overhead')
),
busy AS (
    SELECT * FROM ops UNION ALL SELECT * FROM overhead
),
rng AS (
    SELECT pid, device_id, min(start_ns) AS first_ns, max(end_ns) AS last_ns, min(context_id) AS context_id,
           CAST(ceil(CAST(max(end_ns) - min(start_ns) AS DOUBLE) / $chunks) AS BIGINT) AS size_ns
    FROM busy GROUP BY pid, device_id
),
chunk AS (
    SELECT r.pid, r.device_id, r.context_id, i.i AS chunk_no, r.first_ns + i.i * r.size_ns AS cstart,
           least(r.first_ns + (i.i + 1) * r.size_ns, r.last_ns) AS cend
    FROM rng r, generate_series(0, $chunks - 1) AS i(i)
    WHERE r.first_ns + i.i * r.size_ns < least(r.first_ns + (i.i + 1) * r.size_ns, r.last_ns)
),
pieces AS (
    SELECT b.pid, b.device_id, b.start_ns, b.end_ns,
           unnest(range(CAST((b.start_ns - r.first_ns) // r.size_ns AS BIGINT),
                        CAST(least((b.end_ns - r.first_ns) // r.size_ns, $chunks - 1) + 1 AS BIGINT))) AS chunk_no
    FROM busy b JOIN rng r USING (pid, device_id)
    WHERE r.size_ns > 0
),
used AS (
    SELECT p.pid, p.device_id, p.chunk_no,
           sum(least(p.end_ns, c.cend) - greatest(p.start_ns, c.cstart)) AS used_ns
    FROM pieces p JOIN chunk c USING (pid, device_id, chunk_no)
    WHERE p.start_ns < c.cend AND p.end_ns > c.cstart
    GROUP BY ALL
),
util AS (
    SELECT c.*, c.cend - c.cstart AS size_ns,
           coalesce(u.used_ns, 0) * 100.0 / (c.cend - c.cstart) AS pct
    FROM chunk c LEFT JOIN used u USING (pid, device_id, chunk_no)
),
low AS (
    SELECT *, chunk_no - row_number() OVER (PARTITION BY pid, device_id ORDER BY chunk_no) AS grp
    FROM util WHERE pct < $threshold_pct
),
merged AS (
    SELECT pid, device_id, any_value(context_id) AS context_id, min(cstart) AS start_ns, max(cend) AS end_ns,
           round(sum(size_ns * pct) / sum(size_ns), 1) AS in_use_pct
    FROM low GROUP BY pid, device_id, grp
)
SELECT 0 AS impact_ns, CAST(round((end_ns - start_ns) * (100 - least(in_use_pct, 100)) / 100) AS BIGINT) AS idle_ns,
       start_ns, end_ns, end_ns - start_ns AS dur_ns, in_use_pct, nullif(pid, -1) AS pid, device_id, context_id,
       CASE WHEN pid = -1 THEN 'operations without a process id' ELSE 'pid ' || pid END AS who
FROM merged
