-- hta_comm_comp_overlap: per device, how much of the communication time overlaps computation (HTA's
-- get_comm_comp_overlap): comm_ns is the merged NCCL-kernel time, overlap_ns the part of it during which a
-- COMPUTATION kernel also ran; overlap_pct = 100 * overlap_ns / comm_ns. Low values mean collectives stall the
-- GPU. Devices without communication kernels have no row. Columns: device_id, comm_ns, overlap_ns, overlap_pct.
-- Requires: hta_gpu_coverage. No parameters.
CREATE OR REPLACE VIEW hta_comm_comp_overlap AS
WITH c AS (
    SELECT device_id, CAST(sum(dur_ns) FILTER (WHERE state & 2 = 2) AS BIGINT) AS comm_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE state & 3 = 3), 0) AS BIGINT) AS overlap_ns
    FROM hta_gpu_coverage GROUP BY device_id
)
SELECT device_id, comm_ns, overlap_ns, 100.0 * overlap_ns / comm_ns AS overlap_pct
FROM c WHERE comm_ns > 0
