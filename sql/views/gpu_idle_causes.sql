-- gpu_idle_causes: why each GPU idle gap (gpu_idle_gaps) happened, judged from the host thread that launched the
-- operation ending the gap. First matching cause wins:
--   sync        the process spent at least half of the gap blocked in host waits that returned inside it
--               (sync_stalls: synchronisations, synchronous copies, cudaFree), so no work could be queued
--               meanwhile; when the host spent most of the gap after the wait returned, the rest of the
--               classification decides (a wait followed by long CPU work is host-bound);
--   dependency  the next operation had already been launched before the gap began: it waited on something else
--               (an event or stream dependency, another device, a CUDA graph), not on the host;
--   copy        the next operation is a memcpy whose call started before the gap's midpoint: the host was inside
--               the copy call (staging pageable memory, a synchronous copy) for most of the gap;
--   launch      the launching thread spent most of the gap inside CUDA API calls (launching, querying, recording
--               events, allocating) before the next launch: launch overhead, typical of many tiny kernels;
--   host        the launching thread spent most of the gap outside CUDA calls (Python, data preparation, MPI,
--               other CPU work) before it launched the next operation;
--   unknown     the next operation has no recorded launch call.
-- "Most" is half the gap. waited_ns is the time inside the gap covered by such waits (summed, capped at the gap);
-- host_outside_api_ns is the time the launching thread spent outside CUDA API calls between the gap start and the
-- start of the next launch call (running API-time totals of api_busy_by_thread, so no interval join).
-- Columns: gpu_idle_gaps columns, waited_ns, host_outside_api_ns, cause.
-- No parameters.
CREATE OR REPLACE VIEW gpu_idle_causes AS
WITH after_sync AS (
    SELECT gap_id, least(sum(end_ns - greatest(start_ns, gap_start_ns)), any_value(gap_end_ns - gap_start_ns))
               AS waited_ns
    FROM sync_stalls GROUP BY gap_id
),
-- the thread's running API time at two points of each gap (0: the gap's start, 1: the next launch call's start),
-- found in one ASOF join, so the thread's API intervals are sorted once, not once per point
api_points AS (
    SELECT gap_id, 0 AS which, pid, tid, start_ns AS ts_ns FROM gpu_idle_gaps WHERE next_api_start_ns > start_ns
    UNION ALL
    SELECT gap_id, 1, pid, tid, next_api_start_ns FROM gpu_idle_gaps WHERE next_api_start_ns > start_ns
),
api_hit AS (
    SELECT p.gap_id, p.which,
           coalesce(a.cum_before_ns + least(greatest(p.ts_ns - a.start_ns, 0), a.dur_ns), 0) AS api_ns
    FROM api_points p
    ASOF LEFT JOIN api_busy_by_thread a ON a.pid = p.pid AND a.tid = p.tid AND a.start_ns <= p.ts_ns
),
api_at AS (
    SELECT gap_id, sum(api_ns) FILTER (WHERE which = 0) AS a_start, sum(api_ns) FILTER (WHERE which = 1) AS a_next
    FROM api_hit GROUP BY gap_id
),
gaps AS (
    SELECT g.*, coalesce(s.waited_ns, 0) AS waited_ns,
           coalesce(g.next_api_start_ns - g.start_ns - (a.a_next - a.a_start), 0) AS host_outside_api_ns
    FROM gpu_idle_gaps g
    LEFT JOIN api_at a ON a.gap_id = g.gap_id
    LEFT JOIN after_sync s ON s.gap_id = g.gap_id
)
SELECT gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, next_op_id, next_op_kind,
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
