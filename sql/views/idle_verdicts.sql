-- idle_verdicts: the first half of the idle ledger (view idle_ledger): each GPU idle gap's cause and the call or
-- range that decided it, before the annotation ranges, samples and warm-up window around that evidence are looked
-- up. The causes, their precedence and the evidence columns are documented in idle_ledger.sql; this view is that
-- judgement alone, kept apart so that an analysis makes it once as a table and the ledger's seven readers of it
-- each scan only the columns they use (at 13M gaps, reading one wide intermediate result seven times spilled
-- 32 GB under the default memory limit).
-- Grain: one row per gap of gpu_idle_causes. Columns: the gpu_idle_causes columns except cause, then wait_name,
-- sync_kind, wait_pid, wait_tid, wait_start_ns, wait_corr (the wait that exposed most of the gap), load_name,
-- load_start_ns, load_tid, prof_name, dep_name, dep_start_ns, cause, evidence_name, evidence_pid, evidence_tid,
-- evidence_start_ns, evidence_correlation_id, mid_ns (the middle of the gap's part before the next launch call, for
-- host and launch gaps). No parameters.
CREATE OR REPLACE VIEW idle_verdicts AS
-- read where used: a materialised copy of this (already stored) table is read back whole by each of its readers
WITH g AS NOT MATERIALIZED (
    SELECT * FROM gpu_idle_causes
),
-- the wait that exposed most of each gap (the call whose code is to blame)
top_wait AS (
    SELECT gap_id, arg_max(name, exposed_idle_ns) AS name, arg_max(sync_kind, exposed_idle_ns) AS sync_kind,
           arg_max(pid, exposed_idle_ns) AS pid, arg_max(tid, exposed_idle_ns) AS tid,
           arg_max(start_ns, exposed_idle_ns) AS start_ns,
           arg_max(correlation_id, exposed_idle_ns) AS correlation_id
    FROM sync_stalls GROUP BY gap_id
),
load_calls AS (
    SELECT pid, tid, start_ns, end_ns, name FROM api_calls
    WHERE regexp_matches(name, '^(cuModuleLoad|cuLibraryLoad|cudaLibraryLoad|cuLink(Create|AddData|Complete)'
                               || '|nvrtc|nvJitLink)')
    UNION ALL
    SELECT pid, tid, start_ns, end_ns, name FROM osrt_calls
    WHERE name IN ('dlopen', 'dlmopen')
    UNION ALL
    SELECT pid, tid, start_ns, end_ns, name FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation'
      -- substring tests first: every pattern below holds one of them, and they discard the (usually millions of)
      -- other names at a quarter of the regex's cost
      AND (name ILIKE '%compil%' OR name ILIKE '%nvrtc%' OR name ILIKE '%autotun%' OR name ILIKE '%load%'
           OR name ILIKE '%dynamo%')
      -- compiling, not running compiled code (CompiledFunction, Torch-Compiled Region are the latter)
      AND regexp_matches(name, '(^compile[A-Z_ ]|[Cc]ompile_?[Ff][Xx]|_compile\b|[Cc]ompilation|[Cc]ompiling'
                               || '|nvrtc|NVRTC|[Aa]utotun|[Mm]odule.?[Ll]oad|[Ll]azy.?[Ll]oad|[Dd]ynamo)')
),
load_hit AS (
    SELECT g.gap_id, arg_max(l.name, least(l.end_ns, g.end_ns) - greatest(l.start_ns, g.start_ns)) AS name,
           arg_max(l.start_ns, least(l.end_ns, g.end_ns) - greatest(l.start_ns, g.start_ns)) AS start_ns,
           arg_max(l.tid, least(l.end_ns, g.end_ns) - greatest(l.start_ns, g.start_ns)) AS tid,
           max(least(l.end_ns, g.end_ns) - greatest(l.start_ns, g.start_ns)) AS covered_ns
    FROM g JOIN load_calls l
      ON l.pid = g.pid AND (g.tid IS NULL OR l.tid = g.tid) AND l.start_ns < g.end_ns AND l.end_ns > g.start_ns
    GROUP BY g.gap_id
),
prof_hit AS (
    SELECT g.gap_id, arg_max(o.name, least(o.end_ns, g.end_ns) - greatest(o.start_ns, g.start_ns)) AS name,
           max(least(o.end_ns, g.end_ns) - greatest(o.start_ns, g.start_ns)) AS covered_ns
    FROM g JOIN profiler_overhead o ON o.pid = g.pid AND o.start_ns < g.end_ns AND o.end_ns > g.start_ns
    GROUP BY g.gap_id
),
-- when the previous operation on the next operation's stream was launched: a cross-stream wait must lie after it
stream_prev AS (
    SELECT op_id, lag(launch_ns) OVER (PARTITION BY device_id, stream_id ORDER BY kernel_start_ns, op_id)
               AS prev_launch_ns
    FROM cuda_launches
),
waits AS (
    SELECT pid, tid, start_ns, name FROM api_calls WHERE regexp_matches(name, '^(cuda|cu)StreamWaitEvent')
    UNION ALL
    SELECT e.pid, a.tid, coalesce(a.start_ns, e.start_ns) AS start_ns, coalesce(a.name, 'stream_wait_event')
    FROM sync_events e LEFT JOIN api_calls a ON a.pid = e.pid AND a.correlation_id = e.correlation_id
    WHERE e.sync_type = 'stream_wait_event'
),
queued AS (
    SELECT g.gap_id, g.pid, g.tid, g.next_api_start_ns, coalesce(p.prev_launch_ns, 0) AS after_ns
    FROM g LEFT JOIN stream_prev p ON p.op_id = g.next_op_id
    WHERE g.next_api_end_ns <= g.start_ns
),
dep_hit AS (
    SELECT q.gap_id, w.name, w.start_ns
    FROM queued q
    ASOF JOIN waits w ON w.pid = q.pid AND w.tid = q.tid AND w.start_ns <= q.next_api_start_ns
    WHERE w.start_ns >= q.after_ns
),
judged AS (
    SELECT g.* EXCLUDE (cause), w.name AS wait_name, w.sync_kind, w.pid AS wait_pid, w.tid AS wait_tid,
           w.start_ns AS wait_start_ns,
           w.correlation_id AS wait_corr, l.name AS load_name, l.start_ns AS load_start_ns, l.tid AS load_tid,
           pr.name AS prof_name, d.name AS dep_name, d.start_ns AS dep_start_ns,
           CASE
               WHEN g.waited_ns >= g.dur_ns / 2 AND w.gap_id IS NOT NULL THEN 'sync'
               WHEN g.next_op_kind IN ('memcpy', 'memset') AND g.next_api_start_ns <= g.start_ns + g.dur_ns / 2
                    AND g.next_api_end_ns > g.start_ns THEN 'copy'
               WHEN l.covered_ns >= g.dur_ns / 2 THEN 'load'
               -- the next kernel's own launch call filled the gap: a first-use module load, not queueing
               WHEN f.gap_id IS NOT NULL THEN 'load'
               WHEN pr.covered_ns >= g.dur_ns / 2 THEN 'profiler'
               WHEN g.next_api_end_ns <= g.start_ns AND d.gap_id IS NOT NULL THEN 'dependency'
               WHEN g.next_api_end_ns <= g.start_ns THEN 'queued'
               WHEN g.next_api_end_ns IS NULL THEN 'unknown'
               WHEN g.host_outside_api_ns < g.dur_ns / 2 THEN 'launch'
               ELSE 'host'
           END AS cause
    FROM g
    LEFT JOIN top_wait w ON w.gap_id = g.gap_id
    LEFT JOIN load_hit l ON l.gap_id = g.gap_id
    LEFT JOIN prof_hit pr ON pr.gap_id = g.gap_id
    LEFT JOIN dep_hit d ON d.gap_id = g.gap_id
    LEFT JOIN first_use_loads f ON f.gap_id = g.gap_id
),
placed AS (
    SELECT *,
           CASE cause
               WHEN 'sync' THEN wait_name
               WHEN 'copy' THEN next_api_name
               WHEN 'load' THEN coalesce(load_name, 'first-use module load in ' || next_api_name)
               WHEN 'profiler' THEN prof_name
               WHEN 'dependency' THEN dep_name
               WHEN 'launch' THEN next_api_name
           END AS evidence_name,
           CASE WHEN cause = 'sync' THEN wait_pid ELSE pid END AS evidence_pid,
           CASE cause WHEN 'sync' THEN wait_tid WHEN 'load' THEN coalesce(load_tid, tid) ELSE tid END AS evidence_tid,
           CASE cause
               WHEN 'sync' THEN wait_start_ns
               WHEN 'copy' THEN next_api_start_ns
               WHEN 'load' THEN coalesce(load_start_ns, next_api_start_ns)
               WHEN 'dependency' THEN dep_start_ns
               WHEN 'launch' THEN next_api_start_ns
           END AS evidence_start_ns,
           CASE cause WHEN 'sync' THEN wait_corr END AS evidence_correlation_id,
           -- the middle of the part of the gap before the next launch call: what the thread was doing
           CASE WHEN cause IN ('host', 'launch')
                THEN (start_ns + least(end_ns, greatest(next_api_start_ns, start_ns))) // 2 END AS mid_ns
    FROM judged
)
SELECT * FROM placed
