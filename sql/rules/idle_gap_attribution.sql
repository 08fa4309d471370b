-- rule: idle_gap_attribution
-- title: Why the GPU sat idle
-- severity: auto
-- group_by: device_id, cause
-- param min_gap_ns = 1000: gaps shorter than this (ns) are ignored ...
-- param min_gap_step_frac = 0.0: ... and, when the process has steps, gaps shorter than this fraction of its
--   median step time (0 = off)
-- param min_share = 0.02: report a cause when its gaps add up to at least this fraction of the device's active span
-- impact: the idle time of the gaps with that cause.
-- summary: {gpu} sat idle {impact:time} ({share:pct} of its active span) in {n} gap{s} that {were} {cause}-bound: {meaning}.
--   The longest lasted {max_dur_ns:time}.
-- recommendation: {advice}
-- why: An idle GPU inside the run is waiting for something; the thread that launched the work ending each gap shows
--   what (view gpu_idle_causes): a host wait, CPU work, launch overhead, a copy call, or a dependency.
WITH gaps AS (
    SELECT g.*
    FROM gpu_idle_causes g
    LEFT JOIN step_summary ss USING (pid)
    WHERE g.dur_ns >= greatest($min_gap_ns, coalesce($min_gap_step_frac * ss.p50_ns, 0))
),
causes AS (
    SELECT g.*, sum(dur_ns) OVER (PARTITION BY device_id, cause) AS cause_ns FROM gaps g
)
SELECT c.dur_ns AS impact_ns, c.start_ns, c.end_ns, c.dur_ns, c.device_id, c.cause, c.pid, c.tid, c.next_op_kind,
       o.label AS next_op_name, c.next_api_name, c.host_outside_api_ns,
       CASE c.cause
           WHEN 'sync' THEN 'the host was blocked in waits for the GPU (synchronisations, synchronous copies, cudaFree)'
           WHEN 'host' THEN 'the launching thread was busy outside CUDA (Python, data preparation) before launching'
           WHEN 'launch' THEN 'the launching thread was inside CUDA API calls (launching, allocating, recording events) '
                              || 'and issued work slower than the GPU ran it'
           WHEN 'copy' THEN 'the host was inside the call issuing the next copy'
           WHEN 'dependency' THEN 'the next work was already queued but waited on another stream, event or device'
           ELSE 'the next work had no recorded launch call'
       END AS meaning,
       CASE c.cause
           WHEN 'sync' THEN 'Remove or defer the synchronisations (see the sync_stall findings for the call sites).'
           WHEN 'host' THEN 'Move CPU work off the launching thread or overlap it with GPU work (prepare the next batch '
                            || 'while the GPU runs, DataLoader workers, pinned memory); profile the host with CPU sampling.'
           WHEN 'launch' THEN 'Launch fewer, larger kernels: capture the step in a CUDA graph (torch.compile '
                              || 'mode="reduce-overhead", CUDA graphs in vLLM/TensorRT-LLM) or fuse small kernels.'
           WHEN 'copy' THEN 'Issue copies asynchronously from pinned memory ahead of use, on a separate stream.'
           WHEN 'dependency' THEN 'Check cross-stream waits (cudaStreamWaitEvent) and other devices: the critical path '
                                  || 'runs elsewhere, e.g. a slow rank or a copy stream.'
           ELSE 'Trace the CUDA runtime/driver API (nsys -t cuda) to see what launched this work.'
       END AS advice
FROM causes c
JOIN gpu_device_summary d USING (device_id)
LEFT JOIN gpu_ops o ON o.op_id = c.next_op_id
WHERE c.cause_ns >= $min_share * d.span_ns
