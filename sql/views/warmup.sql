-- warmup: per process, the warm-up (start-up / one-shot) window at the start of the trace and what it held.
-- The window runs from the process's first recorded activity (host call, range or GPU operation) to the latest of:
-- * the end of its last substantial piece of start-up work (warmup_events lasting at least warmup_min_event_ns,
--   or a warm-up annotation of any length), so that the trickle of sub-millisecond lazy loads a steady loop still
--   makes (a kernel used for the first time) does not stretch the window over it;
-- * the end of its leading warm-up steps: per process and phase (steps.phase; prefill and decode are judged
--   separately), the run of first steps each longer than warmup_step_ratio x the median of the phase's later
--   steps, in phases with at least 3 steps;
-- and, when that end falls inside a step, the end of that step. Processes with no start-up evidence and no
-- warm-up step get no row.
-- Parameters: warmup_min_event_ns = 1000000, warmup_step_ratio = 2.0 (DuckDB variables: SET VARIABLE to change).
-- Columns: pid, start_ns, end_ns, dur_ns, span_ns (first to last activity of the process), share_pct (dur_ns /
-- span_ns * 100), startup_ns (host time in start-up events, overlaps counted once), module_loads, module_load_ns,
-- jit_count, jit_ns, handle_count, handle_ns, annotation_ns, warmup_steps, first_step_ns (the longest warm-up
-- step), steady_step_ns (median of the later steps of its phase), gpu_busy_ns and gpu_idle_ns (the process's GPU
-- busy/idle time inside the window, between its first and last GPU operation), gpu_idle_total_ns (the same over
-- its whole GPU span), idle_share_pct (gpu_idle_ns / gpu_idle_total_ns * 100), evidence (the costliest start-up
-- names with counts and times, or the warm-up step), steady_from (end_ns as seconds on the trace clock, the
-- value to pass to --window).
CREATE OR REPLACE VIEW warmup AS
WITH procs AS (
    SELECT pid, min(start_ns) AS first_ns, max(end_ns) AS last_ns
    FROM (SELECT pid, start_ns, end_ns FROM api_calls
          UNION ALL SELECT pid, start_ns, end_ns FROM gpu_ops
          UNION ALL SELECT pid, start_ns, end_ns FROM nvtx_ranges WHERE category IS DISTINCT FROM 'gpu_user_annotation')
    WHERE pid IS NOT NULL AND start_ns IS NOT NULL AND end_ns IS NOT NULL
    GROUP BY pid
),
ev AS (SELECT * FROM warmup_events WHERE pid IS NOT NULL),
ev_end AS (
    SELECT pid, max(end_ns) AS end_ns FROM ev
    WHERE dur_ns >= coalesce(getvariable('warmup_min_event_ns'), 1000000) OR kind = 'annotation'
    GROUP BY pid
),
-- overlapping events (a compiler range around its NVRTC call) counted once
ev_marked AS (
    SELECT pid, start_ns, end_ns,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY pid ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM ev
),
ev_islands AS (
    SELECT pid, max(end_ns) - min(start_ns) AS dur_ns
    FROM (SELECT *, sum(opens) OVER (PARTITION BY pid ORDER BY start_ns, end_ns ROWS UNBOUNDED PRECEDING) AS k
          FROM ev_marked)
    GROUP BY pid, k
),
ev_union AS (SELECT pid, CAST(sum(dur_ns) AS BIGINT) AS startup_ns FROM ev_islands GROUP BY pid),
ev_kinds AS (
    SELECT pid,
           count(*) FILTER (WHERE kind IN ('module_load', 'first_use')) AS module_loads,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind IN ('module_load', 'first_use')), 0) AS BIGINT) AS module_load_ns,
           count(*) FILTER (WHERE kind = 'jit') AS jit_count,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'jit'), 0) AS BIGINT) AS jit_ns,
           count(*) FILTER (WHERE kind = 'handle') AS handle_count,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'handle'), 0) AS BIGINT) AS handle_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'annotation'), 0) AS BIGINT) AS annotation_ns
    FROM ev GROUP BY pid
),
ev_names AS (
    SELECT pid, string_agg(name || ' x' || n || ' (' || printf('%.1f', ns / 1e6) || ' ms)', ', ' ORDER BY ns DESC, name)
               AS evidence
    FROM (SELECT pid, name, count(*) AS n, sum(dur_ns) AS ns,
                 row_number() OVER (PARTITION BY pid ORDER BY sum(dur_ns) DESC, name) AS rk
          FROM ev GROUP BY pid, name)
    WHERE rk <= 4
    GROUP BY pid
),
ranked AS (
    SELECT step_id, pid, phase, start_ns, end_ns, dur_ns,
           row_number() OVER (PARTITION BY pid, phase ORDER BY start_ns, step_id) - 1 AS rk,
           count(*) OVER (PARTITION BY pid, phase) AS n
    FROM steps
),
reference AS (
    SELECT pid, phase, quantile_cont(dur_ns, 0.5) AS steady_ns FROM ranked WHERE rk >= 1 AND n >= 3 GROUP BY pid, phase
),
lead_steps AS (
    SELECT r.*, f.steady_ns,
           bool_and(r.dur_ns > coalesce(getvariable('warmup_step_ratio'), 2.0) * f.steady_ns)
               OVER (PARTITION BY r.pid, r.phase ORDER BY r.rk ROWS UNBOUNDED PRECEDING) AS all_long
    FROM ranked r JOIN reference f ON f.pid = r.pid AND f.phase IS NOT DISTINCT FROM r.phase
),
step_end AS (
    SELECT pid, max(end_ns) AS end_ns, count(*) AS warmup_steps, max(dur_ns) AS first_step_ns,
           CAST(arg_max(steady_ns, dur_ns) AS BIGINT) AS steady_step_ns
    FROM lead_steps WHERE all_long GROUP BY pid
),
raw_end AS (
    SELECT p.pid, p.first_ns, p.last_ns, greatest(e.end_ns, s.end_ns) AS end_ns
    FROM procs p
    LEFT JOIN ev_end e USING (pid)
    LEFT JOIN step_end s USING (pid)
    WHERE e.end_ns IS NOT NULL OR s.end_ns IS NOT NULL
),
-- a window that ends inside a step takes the whole step
win AS (
    SELECT w.pid, w.first_ns AS start_ns, least(greatest(w.end_ns, coalesce(max(st.end_ns), w.end_ns)), w.last_ns) AS end_ns,
           w.last_ns - w.first_ns AS span_ns
    FROM raw_end w
    LEFT JOIN steps st ON st.pid = w.pid AND st.start_ns < w.end_ns AND st.end_ns > w.end_ns
    GROUP BY w.pid, w.first_ns, w.last_ns, w.end_ns
),
gpu_span AS (SELECT pid, min(start_ns) AS g0, max(end_ns) AS g1 FROM gpu_ops WHERE pid IS NOT NULL GROUP BY pid),
-- busy time of the process's GPUs before t is B(t) = cum_before_ns + clamp(t - start_ns, 0, dur_ns) of the last
-- busy interval starting at or before t (see gpu_busy_by_pid)
points AS (
    SELECT w.pid, g.g0, g.g1, greatest(w.start_ns, g.g0) AS a, least(w.end_ns, g.g1) AS b
    FROM win w JOIN gpu_span g USING (pid)
),
busy AS (
    SELECT p.pid,
           coalesce(b1.cum_before_ns + least(greatest(p.b - b1.start_ns, 0), b1.dur_ns), 0)
             - coalesce(b0.cum_before_ns + least(greatest(p.a - b0.start_ns, 0), b0.dur_ns), 0) AS busy_ns,
           greatest(p.b - p.a, 0) AS len_ns
    FROM points p
    ASOF LEFT JOIN gpu_busy_by_pid b0 ON b0.pid = p.pid AND b0.start_ns <= p.a
    ASOF LEFT JOIN gpu_busy_by_pid b1 ON b1.pid = p.pid AND b1.start_ns <= p.b
),
busy_total AS (
    SELECT pid, CAST(sum(dur_ns) AS BIGINT) AS busy_ns FROM gpu_busy_by_pid GROUP BY pid
)
SELECT w.pid, w.start_ns, w.end_ns, w.end_ns - w.start_ns AS dur_ns, w.span_ns,
       100.0 * (w.end_ns - w.start_ns) / nullif(w.span_ns, 0) AS share_pct,
       coalesce(u.startup_ns, 0) AS startup_ns,
       coalesce(k.module_loads, 0) AS module_loads, coalesce(k.module_load_ns, 0) AS module_load_ns,
       coalesce(k.jit_count, 0) AS jit_count, coalesce(k.jit_ns, 0) AS jit_ns,
       coalesce(k.handle_count, 0) AS handle_count, coalesce(k.handle_ns, 0) AS handle_ns,
       coalesce(k.annotation_ns, 0) AS annotation_ns,
       coalesce(s.warmup_steps, 0) AS warmup_steps, s.first_step_ns, s.steady_step_ns,
       CAST(coalesce(b.busy_ns, 0) AS BIGINT) AS gpu_busy_ns,
       CAST(greatest(coalesce(b.len_ns - b.busy_ns, 0), 0) AS BIGINT) AS gpu_idle_ns,
       CAST(coalesce(g.g1 - g.g0 - t.busy_ns, 0) AS BIGINT) AS gpu_idle_total_ns,
       100.0 * greatest(coalesce(b.len_ns - b.busy_ns, 0), 0) / nullif(g.g1 - g.g0 - t.busy_ns, 0) AS idle_share_pct,
       concat_ws('; ', n.evidence,
                 CASE WHEN s.warmup_steps > 0
                      THEN CAST(s.warmup_steps AS VARCHAR) || ' leading step' || CASE WHEN s.warmup_steps > 1 THEN 's' ELSE '' END
                           || ' up to ' || printf('%.1f', s.first_step_ns / 1e6) || ' ms vs ' || printf('%.1f', s.steady_step_ns / 1e6)
                           || ' ms for the later steps' END) AS evidence,
       printf('%.3fs', w.end_ns / 1e9) AS steady_from
FROM win w
LEFT JOIN ev_union u USING (pid)
LEFT JOIN ev_kinds k USING (pid)
LEFT JOIN ev_names n USING (pid)
LEFT JOIN step_end s USING (pid)
LEFT JOIN busy b USING (pid)
LEFT JOIN gpu_span g USING (pid)
LEFT JOIN busy_total t USING (pid)
WHERE w.end_ns > w.start_ns
