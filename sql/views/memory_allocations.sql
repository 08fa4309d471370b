-- memory_allocations: each GPU allocation with its lifetime: the allocation event paired with the next free of
-- the same address by the same process on the same device. Allocations still live at the end of the capture
-- have no free. Grain: one row per allocation event on a GPU. No parameters.
CREATE OR REPLACE VIEW memory_allocations(
    -- GPU id, process, allocating thread (NULL when unknown).
    device_id, pid, tid,
    -- allocation address and size, bytes.
    address, bytes,
    -- memory kind.
    mem_kind,
    -- allocation time and matching free time (NULL if never freed in the capture), ns.
    alloc_ns, free_ns,
    -- free_ns - alloc_ns, ns (NULL if never freed).
    lifetime_ns
) AS
WITH a AS (SELECT * FROM memory_timeline WHERE operation = 'alloc'),
f AS (SELECT * FROM memory_timeline WHERE operation = 'free')
SELECT a.device_id, a.pid, a.tid, a.address, a.bytes, a.mem_kind, a.ts_ns, f.ts_ns, f.ts_ns - a.ts_ns
FROM a
ASOF LEFT JOIN f ON f.device_id = a.device_id AND f.pid = a.pid AND f.address = a.address AND f.seq > a.seq
