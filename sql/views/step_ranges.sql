-- step_ranges: the annotation ranges that are steps. Per process, ranges matching the best (lowest) step_matches
-- priority are taken; a range nested inside another selected range of the same process is dropped, so steps
-- never overlap within a process. Columns: range_id, pid, tid, name, start_ns, end_ns, dur_ns, priority.
-- No parameters.
CREATE OR REPLACE VIEW step_ranges AS
WITH matched AS (
    SELECT r.range_id, r.pid, r.tid, r.name, r.start_ns, r.end_ns, r.dur_ns, m.priority
    FROM step_matches m
    JOIN nvtx_ranges r USING (range_id)
),
best AS (
    SELECT *, min(priority) OVER (PARTITION BY pid) AS best_priority FROM matched
),
chosen AS (
    SELECT *, max(end_ns) OVER (PARTITION BY pid ORDER BY start_ns, end_ns DESC, range_id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end_ns
    FROM best
    WHERE priority = best_priority
)
SELECT range_id, pid, tid, name, start_ns, end_ns, dur_ns, priority
FROM chosen
WHERE prev_end_ns IS NULL OR end_ns > prev_end_ns
