-- hta_comm_comp_overlap: per device, how much of the communication time overlaps computation (HTA's
-- get_comm_comp_overlap): comm_ns is the merged NCCL-kernel time, overlap_ns the part of it during which a
-- COMPUTATION kernel also ran; overlap_pct = 100 * overlap_ns / comm_ns (NULL without communication). Low values
-- mean collectives stall the GPU. Columns: device_id, comm_ns, overlap_ns, overlap_pct.
-- Requires: hta_busy_intervals, hta_kernel_type_breakdown. No parameters.
CREATE OR REPLACE VIEW hta_comm_comp_overlap AS
WITH comm AS (
    SELECT device_id, CAST(sum(dur_ns) AS BIGINT) AS comm_ns FROM hta_busy_intervals
    WHERE kernel_type = 'COMMUNICATION' GROUP BY device_id
),
overlap AS (
    SELECT device_id, CAST(sum(dur_ns) AS BIGINT) AS overlap_ns FROM hta_kernel_type_breakdown
    WHERE kernel_type LIKE 'COMPUTATION overlapping COMMUNICATION%' GROUP BY device_id
)
SELECT c.device_id, c.comm_ns, coalesce(o.overlap_ns, 0) AS overlap_ns,
       100.0 * coalesce(o.overlap_ns, 0) / nullif(c.comm_ns, 0) AS overlap_pct
FROM comm c LEFT JOIN overlap o USING (device_id)
