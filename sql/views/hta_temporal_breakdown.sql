-- hta_temporal_breakdown: HTA's temporal breakdown per device: over the span from the first GPU operation's start
-- to the last one's end, the time the GPU was idle (no operation on any stream), computing (a COMPUTATION kernel
-- ran) and busy with only non-compute work (communication, memory, other). Communication or copies overlapping
-- compute count as compute. idle + compute + non_compute = span. Percentages are of span_ns.
-- Columns: device_id, span_ns, busy_ns, idle_ns, compute_ns, non_compute_ns, idle_pct, compute_pct,
-- non_compute_pct. Requires: hta_gpu_coverage. No parameters.
CREATE OR REPLACE VIEW hta_temporal_breakdown AS
WITH t AS (
    SELECT device_id, max(end_ns) - min(start_ns) AS span_ns,
           CAST(sum(dur_ns) FILTER (WHERE state > 0) AS BIGINT) AS busy_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE state & 1 = 1), 0) AS BIGINT) AS compute_ns
    FROM hta_gpu_coverage GROUP BY device_id
)
SELECT device_id, span_ns, busy_ns, span_ns - busy_ns AS idle_ns, compute_ns, busy_ns - compute_ns AS non_compute_ns,
       100.0 * (span_ns - busy_ns) / nullif(span_ns, 0) AS idle_pct,
       100.0 * compute_ns / nullif(span_ns, 0) AS compute_pct,
       100.0 * (busy_ns - compute_ns) / nullif(span_ns, 0) AS non_compute_pct
FROM t
