-- sync_calls: every host-side wait for the GPU, one row per wait, from two sources:
-- * API calls that block the host: device (cudaDeviceSynchronize, cuCtxSynchronize), stream
--   (cudaStreamSynchronize, cuStreamSynchronize), event (cudaEventSynchronize, cuEventSynchronize), copy
--   (synchronous cudaMemcpy*/cuMemcpy* without Async, and Async copies from the device into pageable host memory,
--   which return only when the copy is done) and free (cudaFree/cuMemFree synchronise the device);
--   a driver call nested inside a runtime call of the same thread (cudaMemcpy -> cuMemcpy) is not counted twice;
-- * CUPTI synchronisation records (sync_events: event_sync, stream_sync, context_sync) whose launching call is not
--   already listed, with the thread taken from their API call when it was recorded.
-- stream_wait_event records are GPU-side waits, not host waits, and are not included.
-- Columns: sync_id, pid, tid, start_ns, end_ns, dur_ns, sync_kind, name, source (api | cupti), correlation_id,
-- sync_device_id (the device a CUPTI record names). No parameters.
CREATE OR REPLACE VIEW sync_calls AS
WITH api AS (
    SELECT pid, tid, start_ns, end_ns, dur_ns, correlation_id, name,
           CASE
               WHEN name IN ('cudaDeviceSynchronize', 'cudaThreadSynchronize', 'cuCtxSynchronize') THEN 'device'
               WHEN name IN ('cudaStreamSynchronize', 'cuStreamSynchronize') THEN 'stream'
               WHEN name IN ('cudaEventSynchronize', 'cuEventSynchronize') THEN 'event'
               WHEN regexp_matches(name, '^(cudaMemcpy|cuMemcpy)') AND NOT regexp_matches(name, '(?i)async')
                   THEN 'copy'
               WHEN name IN ('cudaFree', 'cuMemFree') THEN 'free'
           END AS sync_kind
    FROM api_calls
),
-- an "asynchronous" copy from the device into pageable host memory returns only when the copy is done
pageable_d2h AS (
    SELECT a.pid, a.tid, a.start_ns, a.end_ns, a.dur_ns, a.correlation_id, a.name, 'copy' AS sync_kind
    FROM api_calls a
    JOIN memcpy m ON m.pid = a.pid AND m.correlation_id = a.correlation_id
    WHERE regexp_matches(a.name, '^(cudaMemcpy|cuMemcpy)') AND regexp_matches(a.name, '(?i)async')
      AND m.src_kind = 'Device' AND m.dst_kind = 'Pageable'
),
api_sync AS (
    SELECT *, max(end_ns) OVER (PARTITION BY pid, tid ORDER BY start_ns, end_ns DESC
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS outer_end_ns
    FROM (SELECT * FROM api WHERE sync_kind IS NOT NULL UNION ALL SELECT * FROM pageable_d2h)
),
from_api AS (
    SELECT pid, tid, start_ns, end_ns, dur_ns, sync_kind, name, 'api' AS source, correlation_id,
           CAST(NULL AS BIGINT) AS sync_device_id
    FROM api_sync
    WHERE outer_end_ns IS NULL OR end_ns > outer_end_ns
),
from_cupti AS (
    SELECT e.pid, a.tid, e.start_ns, e.end_ns, e.dur_ns,
           CASE e.sync_type WHEN 'event_sync' THEN 'event' WHEN 'stream_sync' THEN 'stream'
                            WHEN 'context_sync' THEN 'device' ELSE 'unknown' END AS sync_kind,
           coalesce(a.name, 'CUPTI ' || e.sync_type) AS name, 'cupti' AS source, e.correlation_id,
           e.device_id AS sync_device_id
    FROM sync_events e
    LEFT JOIN api_calls a ON a.pid = e.pid AND a.correlation_id = e.correlation_id
    WHERE e.sync_type IN ('event_sync', 'stream_sync', 'context_sync')
      AND NOT EXISTS (SELECT 1 FROM api_sync s WHERE s.pid = e.pid AND s.correlation_id = e.correlation_id)
)
SELECT row_number() OVER (ORDER BY start_ns, pid, tid) AS sync_id, *
FROM (SELECT * FROM from_api UNION ALL SELECT * FROM from_cupti)
