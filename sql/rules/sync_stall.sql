-- rule: sync_stall
-- title: Host waits that leave the GPU idle
-- severity: auto
-- group_by: device_id, pid, tid, context, sync_kind
-- param min_idle_ns = 20000: a wait counts when it exposes at least this much GPU idle (ns) ...
-- param min_idle_step_frac = 0.01: ... or, when the process has steps, at least this fraction of its median step
--   time, whichever is larger
-- param min_share = 0.01: report a call site when its waits together expose at least this fraction of the
--   device's active span
-- impact: GPU idle exposed by the waits (view sync_stalls): from when the device drained during the wait until
--   the host had queued the next operation.
-- summary: {n} {sync_kind} wait{s} ({api_name}) {where} on thread {tid} (pid {pid}) left {gpu} idle for
--   {impact:time}, {share:pct} of its active span; the host was blocked {sum_wait_ns:time} in them.
-- recommendation: {advice}
-- why: Every wait drains the GPU's queue: the GPU finishes, the host wakes up, and only then starts preparing and
--   launching the next work, so the GPU idles for the whole host round trip. Waits hidden in innocent-looking
--   calls (tensor.item(), .cpu(), .tolist(), printing a tensor, `if mask.any():`, synchronous copies, cudaFree)
--   are the usual cause in inference loops.
WITH thresholds AS (
    SELECT s.pid, greatest($min_idle_ns, coalesce($min_idle_step_frac * ss.p50_ns, 0)) AS min_idle_ns
    FROM (SELECT DISTINCT pid FROM sync_stalls) s LEFT JOIN step_summary ss USING (pid)
),
sync_points AS (
    SELECT sync_id AS point_id, pid, tid, start_ns AS ts_ns FROM sync_calls WHERE tid IS NOT NULL
),
waits AS (
    SELECT st.*, coalesce(nvtx_label(i.name), '(no annotation)') AS context, nvtx_label(o.name) AS outer_context
    FROM sync_stalls st
    JOIN thresholds t USING (pid)
    LEFT JOIN nvtx_ranges_at(sync_points) h ON h.point_id = st.sync_id
    LEFT JOIN nvtx_ranges i ON i.range_id = h.innermost_range_id
    LEFT JOIN nvtx_ranges o ON o.range_id = h.outermost_range_id
    WHERE st.exposed_idle_ns >= t.min_idle_ns
),
sites AS (
    SELECT w.*, sum(exposed_idle_ns) OVER (PARTITION BY device_id, pid, tid, context, sync_kind) AS site_idle_ns
    FROM waits w
)
SELECT s.exposed_idle_ns AS impact_ns, s.start_ns, s.gap_end_ns AS end_ns, s.dur_ns AS wait_ns, s.device_id, s.pid,
       s.tid, s.sync_kind, s.name AS api_name, s.source, s.context, s.outer_context, s.gap_id,
       CASE WHEN s.context = '(no annotation)' THEN 'outside any annotated range'
            ELSE 'inside ' || s.context END AS "where",
       CASE WHEN s.context ILIKE '%aten::item%' OR s.context ILIKE '%aten::_local_scalar_dense%'
                 OR s.context ILIKE '%aten::is_nonzero%'
            THEN 'A GPU value is read on the host (' || s.context || '): keep it on the GPU (torch.where, masking) '
                 || 'instead of branching on it in Python, or copy it asynchronously into pinned memory and read it '
                 || 'a step later.'
            WHEN s.sync_kind = 'copy'
            THEN 'Replace the synchronous copy with cudaMemcpyAsync / tensor.to(non_blocking=True) from pinned memory '
                 || 'and synchronise on an event only where the data is used.'
            WHEN s.sync_kind = 'free'
            THEN 'Stop freeing GPU memory in the loop: reuse buffers or rely on the caching allocator (cudaFree '
                 || 'synchronises the device).'
            ELSE 'Remove the ' || s.name || ' call if it is not needed for correctness; otherwise wait on an event '
                 || 'recorded right after the producing kernel, and queue the next step''s work before waiting.'
       END AS advice
FROM sites s
JOIN gpu_device_summary d USING (device_id)
WHERE s.site_idle_ns >= $min_share * d.span_ns
