-- python_frames_during(win_start_ns, win_end_ns, win_pid, win_tid): table macro: the Python code a thread was
-- in during a time window, most sampled first. Samples of process win_pid (and thread win_tid; NULL = all its
-- threads) with win_start_ns <= ts_ns < win_end_ns are grouped by their code frame (python_samples.code_*).
-- Parameters: win_start_ns, win_end_ns (the window, ns on the trace timeline), win_pid, win_tid.
-- Example: SELECT * FROM python_frames_during(1200000000, 1241000000, 4242, 4242) LIMIT 5
-- Columns: tid, thread_name, function, file, line, samples, running_samples (OS state running),
-- gil_samples (thread held the GIL), share_pct (of the thread's samples in the window), first_ts_ns, last_ts_ns.
CREATE OR REPLACE MACRO python_frames_during(win_start_ns, win_end_ns, win_pid, win_tid) AS TABLE
WITH s AS (
    SELECT * FROM python_samples
    WHERE ts_ns >= win_start_ns AND ts_ns < win_end_ns AND pid = win_pid
      AND (win_tid IS NULL OR tid = win_tid)
)
SELECT tid, any_value(thread_name) AS thread_name, code_function AS function, code_file AS file,
       code_line AS line, count(*) AS samples,
       count(*) FILTER (WHERE state = 'running') AS running_samples,
       count(*) FILTER (WHERE holds_gil) AS gil_samples,
       count(*) * 100.0 / sum(count(*)) OVER (PARTITION BY tid) AS share_pct,
       min(ts_ns) AS first_ts_ns, max(ts_ns) AS last_ts_ns
FROM s
GROUP BY tid, code_function, code_file, code_line
ORDER BY samples DESC, tid, function, line
