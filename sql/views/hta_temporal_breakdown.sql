-- hta_temporal_breakdown: HTA's temporal breakdown per device: over the span from the first GPU operation's start
-- to the last one's end, the time the GPU was idle (no operation on any stream), computing (a COMPUTATION kernel
-- ran) and busy with only non-compute work (communication, memory, other). Communication or copies overlapping
-- compute count as compute. idle + compute + non_compute = span. Percentages are of span_ns.
-- Columns: device_id, span_ns, busy_ns, idle_ns, compute_ns, non_compute_ns, idle_pct, compute_pct,
-- non_compute_pct. Requires: hta_busy_intervals. No parameters.
CREATE OR REPLACE VIEW hta_temporal_breakdown AS
WITH span AS (
    SELECT device_id, max(end_ns) - min(start_ns) AS span_ns, CAST(sum(dur_ns) AS BIGINT) AS busy_ns
    FROM hta_busy_intervals WHERE kernel_type = 'ALL' GROUP BY device_id
),
compute AS (
    SELECT device_id, CAST(sum(dur_ns) AS BIGINT) AS compute_ns
    FROM hta_busy_intervals WHERE kernel_type = 'COMPUTATION' GROUP BY device_id
)
SELECT s.device_id, s.span_ns, s.busy_ns, s.span_ns - s.busy_ns AS idle_ns,
       coalesce(c.compute_ns, 0) AS compute_ns, s.busy_ns - coalesce(c.compute_ns, 0) AS non_compute_ns,
       100.0 * (s.span_ns - s.busy_ns) / nullif(s.span_ns, 0) AS idle_pct,
       100.0 * coalesce(c.compute_ns, 0) / nullif(s.span_ns, 0) AS compute_pct,
       100.0 * (s.busy_ns - coalesce(c.compute_ns, 0)) / nullif(s.span_ns, 0) AS non_compute_pct
FROM span s LEFT JOIN compute c USING (device_id)
