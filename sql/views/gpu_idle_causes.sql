-- gpu_idle_causes: why each GPU idle gap (gpu_idle_gaps) happened, judged from the host thread that launched the
-- operation ending the gap. First matching cause wins:
--   sync        the process was blocked in a host wait (sync_stalls) when the device drained (the wait started at
--               or before the gap and returned inside it) and the wait covers at least half of the gap, so no
--               work could be queued meanwhile; when the host spent most of the gap after the wait returned, the
--               rest of the classification decides (a wait followed by long CPU work is host-bound);
--   dependency  the next operation had already been launched before the gap began: it waited on something else
--               (an event or stream dependency, another device, a CUDA graph), not on the host;
--   copy        the next operation is a memcpy whose call started before the gap's midpoint: the host was inside
--               the copy call (staging pageable memory, a synchronous copy) for most of the gap;
--   launch      the launching thread spent most of the gap inside CUDA API calls (launching, querying, recording
--               events) before the next launch: launch overhead, typical of many tiny kernels;
--   host        the launching thread spent most of the gap outside CUDA calls (Python, data preparation, other
--               CPU work) before it launched the next operation;
--   unknown     the next operation has no recorded launch call.
-- "Most" is half the gap. waited_ns is the part of the gap before the latest such wait returned;
-- host_outside_api_ns is the time the launching thread spent outside any CUDA API call between the gap start and
-- the next launch. Columns: gpu_idle_gaps columns, waited_ns, host_outside_api_ns, cause.
-- No parameters.
CREATE OR REPLACE VIEW gpu_idle_causes AS
WITH thread_api AS (
    SELECT pid, tid, correlation_id, start_ns,
           max(end_ns) OVER (PARTITION BY pid, tid ORDER BY start_ns, end_ns
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end_ns
    FROM api_calls
),
after_sync AS (
    SELECT gap_id, max(end_ns) - any_value(gap_start_ns) AS waited_ns
    FROM sync_stalls WHERE start_ns <= gap_start_ns GROUP BY gap_id
),
gaps AS (
    SELECT g.*, coalesce(s.waited_ns, 0) AS waited_ns,
           greatest(g.next_api_start_ns - greatest(coalesce(t.prev_end_ns, g.start_ns), g.start_ns), 0)
               AS host_outside_api_ns
    FROM gpu_idle_gaps g
    LEFT JOIN gpu_ops o ON o.op_id = g.next_op_id
    LEFT JOIN thread_api t
      ON t.pid = o.pid AND t.correlation_id = o.correlation_id AND t.start_ns = g.next_api_start_ns
    LEFT JOIN after_sync s ON s.gap_id = g.gap_id
)
SELECT gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, next_op_id, next_op_kind, next_op_name,
       next_api_name, next_api_start_ns, next_api_end_ns, waited_ns, host_outside_api_ns,
       CASE
           WHEN waited_ns >= dur_ns / 2 THEN 'sync'
           WHEN next_api_end_ns IS NULL THEN 'unknown'
           WHEN next_api_end_ns <= start_ns THEN 'dependency'
           WHEN next_op_kind = 'memcpy' AND next_api_start_ns <= start_ns + dur_ns / 2 THEN 'copy'
           WHEN host_outside_api_ns < dur_ns / 2 THEN 'launch'
           ELSE 'host'
       END AS cause
FROM gaps
