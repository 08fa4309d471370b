-- cuda_graph_captures: host time spent building CUDA graphs, kept apart from the time they save when replayed.
-- Grain: one row per stream capture (kind 'capture': cudaStreamBeginCapture .. the same thread's next
-- cudaStreamEndCapture, or its last recorded call when the capture never ended in the trace) and per graph
-- instantiation (kind 'instantiate': cudaGraphInstantiate*). The launch calls made inside a capture run nothing on
-- the GPU: they are recorded into the graph, whose kernels appear only when it is replayed (cudaGraphLaunch; those
-- kernels carry graph_id), so a capture is one-time set-up, not launch overhead of the work.
-- Columns: pid, tid, kind, start_ns, end_ns, dur_ns, api_calls (CUDA calls the thread made inside it, the
-- begin/end calls included).
-- No parameters.
CREATE OR REPLACE VIEW cuda_graph_captures AS
WITH begins AS (
    SELECT pid, tid, start_ns FROM api_calls WHERE regexp_matches(name, '^cu(da)?StreamBeginCapture')
),
ends AS (
    SELECT pid, tid, end_ns FROM api_calls WHERE regexp_matches(name, '^cu(da)?StreamEndCapture')
),
last_call AS (
    SELECT pid, tid, max(end_ns) AS end_ns FROM api_calls GROUP BY pid, tid
),
captures AS (
    SELECT b.pid, b.tid, 'capture' AS kind, b.start_ns, coalesce(e.end_ns, lc.end_ns) AS end_ns
    FROM begins b
    ASOF LEFT JOIN ends e ON e.pid = b.pid AND e.tid = b.tid AND e.end_ns >= b.start_ns
    LEFT JOIN last_call lc ON lc.pid = b.pid AND lc.tid = b.tid
),
spans AS (
    SELECT * FROM captures
    UNION ALL
    SELECT pid, tid, 'instantiate', start_ns, end_ns
    FROM api_calls WHERE regexp_matches(name, '^cu(da)?GraphInstantiate')
)
SELECT s.pid, s.tid, s.kind, s.start_ns, s.end_ns, s.end_ns - s.start_ns AS dur_ns,
       (SELECT count(*) FROM api_calls a
        WHERE a.pid = s.pid AND a.tid = s.tid AND a.start_ns >= s.start_ns AND a.end_ns <= s.end_ns) AS api_calls
FROM spans s
