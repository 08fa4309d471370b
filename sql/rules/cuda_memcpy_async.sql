-- rule: cuda_memcpy_async
-- title: Asynchronous copies from pageable host memory
-- severity: auto
-- group_by: device_id, pid
-- parity: nsys analyze cuda-async-memcpy (2022.4; cuda_memcpy_async in current nsys), same predicate: a memcpy
--   whose source or destination is pageable host memory, launched by an API named like 'cudaMemcpy%Async%'.
--   Differences: the launch call is matched on correlation id and process (nsys: correlation id only),
--   --cudabacktrace duplicate API rows do not list a copy twice, and there is no 50-row cap.
-- impact: the copy's GPU duration: copy time that would overlap host work and compute with a pinned buffer.
-- summary: {n} cudaMemcpyAsync cop{ies} on {gpu} (pid {pid}) used pageable host memory: {sum_bytes:bytes} in
--   {impact:time} of copy time, each one blocking the host like a synchronous copy.
-- recommendation: Pin the host buffers (cudaHostAlloc / cudaMallocHost; in PyTorch tensor.pin_memory() or
--   DataLoader(pin_memory=True)) so the copies run asynchronously and overlap compute.
-- why: The driver stages a pageable buffer through its own pinned bounce buffer, and the call returns only after
--   staging, so an "async" copy serialises with host work and leaves the GPU waiting.
SELECT m.dur_ns AS impact_ns, m.start_ns, m.end_ns, m.dur_ns, m.src_kind, m.dst_kind, m.copy_kind_name, m.bytes,
       m.pid, a.tid, m.device_id, m.context_id, m.stream_id, a.name AS api_name
FROM memcpy m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
WHERE (m.src_kind = 'Pageable' OR m.dst_kind = 'Pageable')
  AND a.name ILIKE 'cudaMemcpy%Async%'
