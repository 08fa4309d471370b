-- about: CUDA graphs: how much of the GPU work was replayed from graphs (one cudaGraphLaunch for a whole step's
--   kernels) and the one-time host cost of building them (view cuda_graph_captures), reported apart so that
--   neither capture nor replayed kernels read as per-kernel launch overhead.
-- metric graph_launch_count: count, none, trace
--   cudaGraphLaunch / cuGraphLaunch calls (graph replays).
-- metric graph_kernel_time_pct: pct, none, trace
--   Replay share: GPU time of kernels run as CUDA-graph nodes, as a share of all kernel time.
-- metric graph_capture_count: count, none, trace
--   Stream captures (cudaStreamBeginCapture .. cudaStreamEndCapture).
-- metric graph_capture_ns: ns, lower, trace
--   Host time spent capturing and instantiating CUDA graphs: set-up, not time of the replayed work.
WITH k AS (
    SELECT sum(dur_ns) FILTER (WHERE graph_id IS NOT NULL) AS graph_ns, sum(dur_ns) AS all_ns FROM kernels
)
SELECT 'graph_launch_count' AS id,
       CAST((SELECT count(*) FROM api_calls WHERE regexp_matches(name, '^cu(da)?GraphLaunch')) AS DOUBLE) AS value
UNION ALL SELECT 'graph_kernel_time_pct', coalesce(graph_ns, 0) * 100.0 / nullif(all_ns, 0) FROM k
UNION ALL SELECT 'graph_capture_count', count(*) FROM cuda_graph_captures WHERE kind = 'capture'
UNION ALL SELECT 'graph_capture_ns', coalesce(sum(dur_ns), 0) FROM cuda_graph_captures
