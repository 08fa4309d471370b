-- rule: cuda_memcpy_async
-- title: Asynchronous copies from pageable host memory
-- severity: auto
-- steady_state: true
-- group_by: ledger_owner
-- parity: nsys analyze cuda-async-memcpy (2022.4; cuda_memcpy_async in current nsys), same predicate: a memcpy
--   whose source or destination is pageable host memory, launched by an API named like 'cudaMemcpy%Async%'.
--   Differences: the launch call is matched on correlation id and process (nsys: correlation id only),
--   --cudabacktrace duplicate API rows do not list a copy twice, and there is no 50-row cap.
-- impact: GPU idle before the copy while the host was inside its call, staging the pageable buffer (view
--   idle_ledger, cause copy). Device-to-host copies into pageable memory also block until they finish: the idle
--   after them is a host wait, counted by sync_stall. One finding for all devices.
-- summary: {n} cudaMemcpyAsync cop{ies} on {gpu} (pid {pid}) used pageable host memory: {sum_bytes:bytes} in
--   {sum_dur_ns:time} of copy time, each one blocking the host like a synchronous copy ({d2h_n:int} of them
--   device-to-host, which wait for the copy to finish); the GPU sat idle {impact:time} while the host staged
--   them. The costliest: {bytes:bytes} {copy_kind_name}{culprit}.
-- recommendation: Pin the host buffers (cudaHostAlloc / cudaMallocHost; in PyTorch tensor.pin_memory() or
--   DataLoader(pin_memory=True)) so the copies run asynchronously and overlap compute.
-- why: The driver stages a pageable buffer through its own pinned bounce buffer, and the call returns only after
--   staging, so an "async" copy serialises with host work and leaves the GPU waiting.
WITH copy_points AS (  -- where each copy call below was made, for the annotation range around it
    SELECT hash(a.pid, a.correlation_id) AS point_id, a.pid, a.tid, a.start_ns AS ts_ns
    FROM api_calls a
    SEMI JOIN memcpy m ON m.pid = a.pid AND m.correlation_id = a.correlation_id
        AND (m.src_kind = 'Pageable' OR m.dst_kind = 'Pageable')
    WHERE a.name ILIKE 'cudaMemcpy%Async%' AND a.tid IS NOT NULL
)
SELECT coalesce(li.idle_ns, 0) AS impact_ns, 'cuda_memcpy_async' AS ledger_owner,
       count(*) FILTER (WHERE m.dst_kind = 'Pageable') OVER () AS d2h_n,
       coalesce(' in ' || nvtx_label(r.name), '') AS culprit, m.start_ns, m.end_ns, m.dur_ns, m.src_kind,
       m.dst_kind, m.copy_kind_name, m.bytes,
       m.pid, a.tid, m.device_id, m.context_id, m.stream_id, a.name AS api_name
FROM memcpy m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
LEFT JOIN cuda_launches cl ON cl.pid = m.pid AND cl.correlation_id = m.correlation_id AND cl.op_kind = 'memcpy'
    AND cl.kernel_start_ns = m.start_ns AND cl.device_id = m.device_id
LEFT JOIN (SELECT next_op_id, sum(dur_ns) AS idle_ns FROM idle_ledger WHERE owner = 'cuda_memcpy_async'
           GROUP BY next_op_id) li
    ON li.next_op_id = cl.op_id
LEFT JOIN nvtx_ranges_at(copy_points) h ON h.point_id = hash(a.pid, a.correlation_id)
LEFT JOIN nvtx_ranges r ON r.range_id = h.innermost_range_id
WHERE (m.src_kind = 'Pageable' OR m.dst_kind = 'Pageable')
  AND a.name ILIKE 'cudaMemcpy%Async%'
