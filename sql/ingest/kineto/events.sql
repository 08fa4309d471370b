-- kineto events (staging): raw Chrome-trace events of one or more Kineto files -> one typed row per event.
-- Inputs: `_raw` (read_json of each file's traceEvents array, every scalar as its JSON text, args as JSON, plus
-- the file's `file_idx`) and `_files` (file_idx, rank, base_ns, pid_offset, device_offset; see ingest/kineto.py).
-- Times: ts/dur are µs as decimal text; they are converted exactly (decimal, not float) to int64 ns and shifted by
-- the file's baseTimeNanoseconds (abs_ns); timeline_zero.sql then picks the timeline's zero.
-- kind: the model table an event feeds (kernel, memcpy, memset, runtime, driver, cpu_op, user_annotation,
-- gpu_user_annotation, python_function, sync, instant, memory, overhead, trace, meta), or 'invalid'
-- (X event with a missing, negative or implausibly long duration or an unreadable timestamp; `problem` says
-- which: missing_time, missing_duration, negative_duration, huge_duration), or NULL (category not used).
-- Flow events (ph s/t/f: ac2g, fwdbwd arrows) are dropped here: the correlation id in args already links a
-- launch to its GPU work, and flows are a third of a typical trace.
-- Current and 2021 category spellings are both accepted (kernel/Kernel, gpu_memcpy/Memcpy, cuda_runtime/Runtime,
-- cpu_op/Operator, ...). pid is the OS pid plus the file's pid_offset (multi-rank directories); device is the
-- Kineto device (args.device, else the GPU row's pid) plus device_offset. No parameters.
WITH typed AS (
    SELECT f.file_idx, f.rank, f.pid_offset, f.device_offset, r.ph, lower(r.cat) AS cat, r.name,
           TRY_CAST(r.pid AS BIGINT) AS raw_pid, TRY_CAST(r.tid AS BIGINT) AS raw_tid,
           -- whole µs (most traces) take an integer fast path; BIGINT casts would round "1.5", hence the test
           -- HUGEINT before scaling, so that a value near the int64 limit becomes NULL instead of an overflow error
           TRY_CAST(f.base_ns + CASE WHEN strpos(r.ts, '.') + strpos(r.ts, 'e') + strpos(r.ts, 'E') = 0
                            THEN TRY_CAST(r.ts AS HUGEINT) * 1000
                            ELSE TRY_CAST(round(TRY_CAST(r.ts AS DECIMAL(30, 6)) * 1000) AS HUGEINT) END AS BIGINT) AS abs_ns,
           TRY_CAST(CASE WHEN strpos(r.dur, '.') + strpos(r.dur, 'e') + strpos(r.dur, 'E') = 0
                THEN TRY_CAST(r.dur AS HUGEINT) * 1000
                ELSE TRY_CAST(round(TRY_CAST(r.dur AS DECIMAL(30, 6)) * 1000) AS HUGEINT) END AS BIGINT) AS dur_ns,
           TRY_CAST(r.dur AS DOUBLE) AS dur_us_float,
           r.args
    FROM _raw r
    JOIN _files f USING (file_idx)
    WHERE r.ph IS NULL OR r.ph NOT IN ('s', 't', 'f')
),
checked AS (
    -- why a complete event cannot be placed on the timeline (used only where kind becomes 'invalid'); a duration
    -- over a week or a time beyond 2^61 ns is no measurement, and would overflow later sums
    SELECT *,
           CASE
               WHEN abs_ns IS NULL THEN 'missing_time'
               WHEN dur_ns IS NULL AND isfinite(dur_us_float) AND dur_us_float > 604800000000 THEN 'huge_duration'
               WHEN dur_ns IS NULL THEN 'missing_duration'
               WHEN dur_ns < 0 THEN 'negative_duration'
               WHEN dur_ns > 604800000000000 OR abs(abs_ns) > 2305843009213693952 THEN 'huge_duration'
           END AS problem
    FROM typed
),
kinds AS (
    SELECT * EXCLUDE (dur_us_float),
           CASE
               WHEN ph = 'M' THEN 'meta'
               WHEN ph IN ('i', 'I') AND abs_ns IS NOT NULL THEN
                   CASE WHEN name = '[memory]' THEN 'memory' ELSE 'instant' END
               WHEN ph <> 'X' OR cat IS NULL THEN NULL
               WHEN problem IS NOT NULL THEN 'invalid'
               WHEN cat = 'kernel' THEN 'kernel'
               WHEN cat IN ('gpu_memcpy', 'memcpy') THEN 'memcpy'
               WHEN cat IN ('gpu_memset', 'memset') THEN 'memset'
               WHEN cat IN ('cuda_runtime', 'runtime') THEN 'runtime'
               WHEN cat IN ('cuda_driver', 'driver') THEN 'driver'
               WHEN cat IN ('cpu_op', 'operator') THEN 'cpu_op'
               WHEN cat = 'user_annotation' THEN 'user_annotation'
               WHEN cat = 'gpu_user_annotation' THEN 'gpu_user_annotation'
               WHEN cat = 'python_function' THEN 'python_function'
               WHEN cat = 'cuda_sync' THEN 'sync'
               WHEN cat = 'overhead' THEN 'overhead'
               WHEN cat = 'trace' THEN 'trace'
           END AS kind
    FROM checked
),
gpu_args AS (
    SELECT *,
           CASE WHEN kind IN ('kernel', 'memcpy', 'memset', 'sync', 'runtime', 'driver', 'gpu_user_annotation')
                THEN json_extract_string(args, ['$.device', '$.stream', '$.context', '$.correlation',
                                                '$."External id"', '$."external id"'])
           END AS a
    FROM kinds
)
SELECT file_idx, rank, kind, CASE WHEN kind = 'invalid' THEN problem END AS problem, ph, cat, name,
       raw_pid + pid_offset AS pid,
       raw_tid AS tid,
       abs_ns,
       dur_ns,
       coalesce(TRY_CAST(a[1] AS BIGINT), CASE WHEN kind NOT IN ('runtime', 'driver') THEN raw_pid END)
           + device_offset AS device,
       coalesce(TRY_CAST(a[2] AS BIGINT), CASE WHEN kind NOT IN ('runtime', 'driver') THEN raw_tid END) AS stream,
       TRY_CAST(a[3] AS BIGINT) AS context,
       TRY_CAST(a[4] AS BIGINT) AS correlation,
       coalesce(TRY_CAST(a[5] AS BIGINT), TRY_CAST(a[6] AS BIGINT)) AS external_id,
       args
FROM gpu_args
