-- rule: nccl_exposed
-- title: Communication not overlapped by compute
-- severity: auto
-- group_by: device_id
-- param min_share = 0.05: report a device when exposed communication time is at least this fraction of its active
--   span
-- impact: communication kernel time (view comm_kernels: NCCL, RCCL, multimem, custom all-reduce, DeepEP, NVSHMEM,
--   ...) on the device with no other kernel running (view gpu_exposed), shared among the communication kernel
--   names in proportion to their time.
-- summary: Communication kernels ({families}) kept {gpu} busy {comm_busy_ns:time}, and {impact:time} of it
--   ({share:pct} of the active span) ran with no compute beside it; the largest is {short_name} ({family}, {count:int}
--   calls, {dur_ns:time}). {skew_note}
-- recommendation: First tell skew from transfer: analyse the traces of all ranks of the job together
--   (`inferscope analyze RANK_TRACES...`, docs/fleet.md), which splits each collective into waiting for the last
--   rank and the transfer after it. Skew is fixed on the late rank (uneven work, data loading, host stalls there),
--   not by overlap. Only the transfer part is hidden by overlapping communication with compute (DDP gradient
--   bucketing, FSDP prefetch, tensor-parallel async all-reduce / sequence-parallel overlap) or made shorter
--   (topology and transport, NCCL_DEBUG=INFO; message sizes).
-- why: A collective cannot finish before its last rank arrives, so on an early rank the kernel's time includes the
--   wait for the others: from this rank alone that wait looks exactly like a slow transfer. Overlap hides only the
--   transfer; a skew problem needs the late rank fixed.
WITH e AS (
    SELECT device_id, busy_ns AS comm_busy_ns, exposed_ns FROM gpu_exposed WHERE kind = 'comm'
),
names AS (
    SELECT k.device_id, k.short_name, any_value(c.family) AS family, count(*) AS count, sum(k.dur_ns) AS dur_ns
    FROM kernels k JOIN comm_kernels c USING (name)
    GROUP BY k.device_id, k.short_name
),
families AS (
    SELECT device_id, string_agg(DISTINCT family, ', ' ORDER BY family) AS families FROM names GROUP BY device_id
)
SELECT CAST(round(e.exposed_ns * n.dur_ns / sum(n.dur_ns) OVER (PARTITION BY n.device_id)) AS BIGINT) AS impact_ns,
       n.device_id, n.short_name, n.family, f.families, n.count, n.dur_ns, e.comm_busy_ns, e.exposed_ns,
       CASE WHEN EXISTS (SELECT 1 FROM trace_meta WHERE key = 'ranks')
            THEN 'This trace holds several ranks, but this analysis reads each GPU on its own, so it cannot tell how '
                 || 'much of that is the transfer and how much is waiting for a later rank (skew); the fleet '
                 || 'analysis (--fleet) separates them.'
            ELSE 'One rank''s trace cannot tell how much of that is the transfer and how much is waiting for a '
                 || 'later rank to arrive (skew).' END AS skew_note
FROM names n JOIN e USING (device_id) JOIN families f USING (device_id) JOIN gpu_device_summary d USING (device_id)
WHERE e.exposed_ns >= $min_share * d.span_ns
