-- profiler_overhead: PROFILER_OVERHEAD -> model table `profiler_overhead`. nsys's gap and utilisation rules count
-- CUDA profiling flush overhead as GPU-busy, so it is kept. Names are StringIds ids (__sid; see inferscope/ingest/strings.py).
-- No parameters.
SELECT
    o."start" AS start_ns, o."end" AS end_ns, o."end" - o."start" AS dur_ns,
    (o.globalTid >> 24) & 16777215 AS pid,
    o.globalTid & 16777215 AS tid,
    s.id AS name__sid
FROM PROFILER_OVERHEAD o
LEFT JOIN StringIds s ON s.id = o.nameId
