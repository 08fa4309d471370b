-- kineto nvtx_ranges (before nesting): cpu_op, user_annotation, ProfilerStep#N, python_function and
-- gpu_user_annotation events -> model table `nvtx_ranges` (category says which). ProfilerStep#N annotations get
-- category 'profiler_step'. GPU annotations live on the GPU timeline: pid is the file's main process and tid the
-- stream, and payload_json adds the device. Kineto X events always have an end: style PushPop, never
-- unterminated. depth/parent_id are filled by ingest/nvtx_nesting.sql. A range that starts inside its file's
-- recording window (the "Trace" span, "PyTorch Profiler (0)") but ends after it is cut at the window's end: the
-- profiler saw nothing of the rest, so it is no measured time (a ProfilerStep annotation closed 13 s after an
-- on-demand trace stopped would otherwise make a 13 s step). Beyond the model's columns, cut_at_recording_end
-- flags those ranges: the kineto ingest counts them as data quality, and conforming to the model drops the column.
-- Input: `_kineto_events`, `_kineto_launch_pids`. No parameters.
WITH recording AS (
    SELECT file_idx, max(start_ns + dur_ns) AS end_ns FROM _kineto_events WHERE kind = 'trace' GROUP BY file_idx
),
flagged AS (
    SELECT e.*, w.end_ns AS recording_end_ns,
           coalesce(e.start_ns < w.end_ns AND e.start_ns + e.dur_ns > w.end_ns, false) AS cut_at_recording_end,
           CASE WHEN e.kind = 'user_annotation' AND regexp_matches(e.name, '^ProfilerStep\s*#\s*\d+')
                THEN 'profiler_step' ELSE e.kind END AS category
    FROM _kineto_events e
    LEFT JOIN recording w USING (file_idx)
    WHERE e.kind IN ('cpu_op', 'user_annotation', 'gpu_user_annotation', 'python_function')
),
r AS (
    SELECT * REPLACE (CASE WHEN cut_at_recording_end THEN recording_end_ns - start_ns ELSE dur_ns END AS dur_ns)
    FROM flagged
)
SELECT
    r.start_ns, r.start_ns + r.dur_ns AS end_ns, r.dur_ns,
    row_number() OVER (ORDER BY r.start_ns, r.file_idx, r.pid, r.tid, r.dur_ns DESC) AS range_id,
    CASE WHEN r.kind = 'gpu_user_annotation' THEN m.pid ELSE r.pid END AS pid,
    CASE WHEN r.kind = 'gpu_user_annotation' THEN r.stream ELSE r.tid END AS tid,
    CAST(NULL AS BIGINT) AS end_tid,
    false AS cross_thread,
    r.name,
    CAST(NULL AS VARCHAR) AS domain,
    'PushPop' AS style,
    r.category,
    false AS unterminated,
    CAST(NULL AS BIGINT) AS payload_int,
    CAST(NULL AS DOUBLE) AS payload_double,
    CASE WHEN r.kind = 'gpu_user_annotation'
         THEN json_object('device', r.device, 'stream', r.stream, 'args', r.args)
         ELSE CAST(r.args AS VARCHAR) END AS payload_json,
    r.cut_at_recording_end
FROM r
LEFT JOIN _kineto_launch_pids m ON m.file_idx = r.file_idx AND m.correlation IS NULL
