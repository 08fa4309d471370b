-- rule: sync_stall
-- title: Host waits that leave the GPU idle
-- severity: auto
-- group_by: ledger_owner
-- param min_idle_ns = 20000: a wait counts when it exposes at least this much GPU idle (ns) ...
-- param min_idle_step_frac = 0.01: ... or, when the process has steps, at least this fraction of its median step
--   time, whichever is larger
-- param min_share = 0.01: report a call site when its waits together expose at least this fraction of the
--   device's active span
-- impact: GPU idle exposed by the waits (view sync_stalls) in the gaps the idle ledger gives to host waits (view
--   idle_ledger, cause sync; waits in cudaFree are alloc_churn's): from when the device drained during the wait
--   until the host had queued the next operation. One finding for all call sites, so that the same idle is never
--   listed twice.
-- summary: {sum_waits:int} host waits at {n} call site{s} left {gpu} idle for {impact:time}, {share:pct} of its
--   active span. The costliest: {waits:int} {sync_kind} wait{site_s} ({api_name}) {where} on thread {tid} (pid
--   {pid}){py_where}, {site_idle_ns:time} of GPU idle; the host was blocked {wait_ns:time} in them.
-- recommendation: {advice}
-- why: Every wait drains the GPU's queue: the GPU finishes, the host wakes up, and only then starts preparing and
--   launching the next work, so the GPU idles for the whole host round trip. Waits hidden in innocent-looking
--   calls (tensor.item(), .cpu(), .tolist(), printing a tensor, `if mask.any():`, synchronous copies, pageable
--   device-to-host copies) are the usual cause in inference loops.
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
    JOIN idle_ledger l ON l.gap_id = st.gap_id AND l.owner = 'sync_stall'
    LEFT JOIN nvtx_ranges_at(sync_points) h ON h.point_id = st.sync_id
    LEFT JOIN nvtx_ranges i ON i.range_id = h.innermost_range_id
    LEFT JOIN nvtx_ranges o ON o.range_id = h.outermost_range_id
    WHERE st.exposed_idle_ns >= t.min_idle_ns
),
-- the Python code the waiting thread was in while blocked (bundles with Python samples only)
py AS (
    SELECT w.device_id, w.pid, w.tid, w.context, w.sync_kind, w.name, s.code_function, s.code_file, s.code_line,
           count(*) AS samples
    FROM python_samples s
    ASOF JOIN waits w ON w.pid = s.pid AND w.tid = s.tid AND w.start_ns <= s.ts_ns
    WHERE s.ts_ns < w.end_ns
    GROUP BY ALL
),
py_top AS (
    SELECT device_id, pid, tid, context, sync_kind, name,
           arg_max(code_function || ' (' || regexp_extract(code_file, '[^/]*$') || ':' || code_line || ')', samples)
               AS py_frame
    FROM py GROUP BY ALL
),
sites AS (
    SELECT device_id, pid, tid, context, sync_kind, name AS api_name, any_value(outer_context) AS outer_context,
           count(*) AS waits, sum(exposed_idle_ns) AS site_idle_ns, sum(dur_ns) AS wait_ns,
           arg_max(start_ns, exposed_idle_ns) AS start_ns, arg_max(gap_end_ns, exposed_idle_ns) AS end_ns,
           any_value(source) AS source
    FROM waits
    GROUP BY device_id, pid, tid, context, sync_kind, name
)
SELECT s.site_idle_ns AS impact_ns, s.start_ns, s.end_ns, s.wait_ns, s.waits, s.site_idle_ns,
       s.device_id, s.pid, s.tid, s.sync_kind, s.api_name, s.source, s.context, s.outer_context, p.py_frame,
       'sync_stall' AS ledger_owner,
       CASE WHEN s.waits = 1 THEN '' ELSE 's' END AS site_s,
       CASE WHEN p.py_frame IS NULL THEN '' ELSE ', Python ' || p.py_frame END AS py_where,
       CASE WHEN s.context = '(no annotation)' THEN 'outside any annotated range'
            ELSE 'inside ' || s.context END AS "where",
       CASE WHEN s.context ILIKE '%aten::item%' OR s.context ILIKE '%aten::_local_scalar_dense%'
                 OR s.context ILIKE '%aten::is_nonzero%' OR s.context ILIKE '%aten::tolist%'
            THEN 'A GPU value is read on the host (' || s.context || '): keep it on the GPU (torch.where, masking) '
                 || 'instead of branching on it in Python, or copy it asynchronously into pinned memory and read it '
                 || 'a step later.'
            WHEN s.sync_kind = 'copy' AND s.api_name ILIKE '%async%'
            THEN 'The ' || s.api_name || ' copies to pageable host memory, so it blocks until the copy is done: '
                 || 'copy into a pinned buffer (tensor.to("cpu", non_blocking=True) into pin_memory() storage) and '
                 || 'synchronise on an event only where the data is read.'
            WHEN s.sync_kind = 'copy'
            THEN 'Replace the synchronous copy (' || s.context || ') with cudaMemcpyAsync / '
                 || 'tensor.to(non_blocking=True) from pinned memory and synchronise on an event only where the '
                 || 'data is used; build small device tensors on the GPU instead of copying them from the host.'
            ELSE 'Remove the ' || s.api_name || ' call (' || s.context || ') if it is not needed for correctness; '
                 || 'otherwise wait on an event recorded right after the producing kernel, and queue the next '
                 || 'step''s work before waiting.'
       END AS advice
FROM sites s
JOIN gpu_device_summary d USING (device_id)
LEFT JOIN py_top p ON p.device_id = s.device_id AND p.pid = s.pid AND p.tid = s.tid AND p.context = s.context
    AND p.sync_kind = s.sync_kind AND p.name = s.api_name
WHERE s.site_idle_ns >= $min_share * d.span_ns
