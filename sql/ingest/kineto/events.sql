-- kineto events (staging): raw Chrome-trace events of one or more Kineto files -> one typed row per event.
-- Inputs: `_raw` (read_json of each file's traceEvents array, every scalar as its JSON text, args as JSON, plus
-- the file's `file_idx`) and `_files` (file_idx, rank, base_ns, pid_offset, device_offset; see ingest/kineto.py).
-- Times: ts/dur are µs as decimal text; they are converted exactly (decimal, not float) to int64 ns and shifted by
-- the file's baseTimeNanoseconds (abs_ns); timeline_zero.sql then picks the timeline's zero.
-- kind: the model table an event feeds (kernel, memcpy, memset, runtime, driver, cpu_op, user_annotation,
-- gpu_user_annotation, python_function, sync, instant, memory, overhead, trace, meta), or 'invalid'
-- (X event with a missing/negative duration or an unreadable timestamp), or NULL (category not used).
-- Flow events (ph s/t/f: ac2g, fwdbwd arrows) are dropped here: the correlation id in args already links a
-- launch to its GPU work, and flows are a third of a typical trace.
-- Current and 2021 category spellings are both accepted (kernel/Kernel, gpu_memcpy/Memcpy, cuda_runtime/Runtime,
-- cpu_op/Operator, ...). pid is the OS pid plus the file's pid_offset (multi-rank directories); device is the
-- Kineto device (args.device, else the GPU row's pid) plus device_offset. No parameters.
WITH typed AS (
    SELECT f.file_idx, f.rank, f.pid_offset, f.device_offset, r.ph, lower(r.cat) AS cat, r.name,
           TRY_CAST(r.pid AS BIGINT) AS raw_pid, TRY_CAST(r.tid AS BIGINT) AS raw_tid,
           -- whole µs (most traces) take an integer fast path; BIGINT casts would round "1.5", hence the test
           f.base_ns + CASE WHEN strpos(r.ts, '.') + strpos(r.ts, 'e') + strpos(r.ts, 'E') = 0
                            THEN TRY_CAST(r.ts AS BIGINT) * 1000
                            ELSE TRY_CAST(round(TRY_CAST(r.ts AS DECIMAL(30, 6)) * 1000) AS BIGINT) END AS abs_ns,
           CASE WHEN strpos(r.dur, '.') + strpos(r.dur, 'e') + strpos(r.dur, 'E') = 0
                THEN TRY_CAST(r.dur AS BIGINT) * 1000
                ELSE TRY_CAST(round(TRY_CAST(r.dur AS DECIMAL(30, 6)) * 1000) AS BIGINT) END AS dur_ns,
           r.args
    FROM _raw r
    JOIN _files f USING (file_idx)
    WHERE r.ph IS NULL OR r.ph NOT IN ('s', 't', 'f')
),
kinds AS (
    SELECT *,
           CASE
               WHEN ph = 'M' THEN 'meta'
               WHEN ph IN ('i', 'I') AND abs_ns IS NOT NULL THEN
                   CASE WHEN name = '[memory]' THEN 'memory' ELSE 'instant' END
               WHEN ph <> 'X' OR cat IS NULL THEN NULL
               WHEN abs_ns IS NULL OR dur_ns IS NULL OR dur_ns < 0 THEN 'invalid'
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
    FROM typed
),
gpu_args AS (
    SELECT *,
           CASE WHEN kind IN ('kernel', 'memcpy', 'memset', 'sync', 'runtime', 'driver', 'gpu_user_annotation')
                THEN json_extract_string(args, ['$.device', '$.stream', '$.context', '$.correlation',
                                                '$."External id"', '$."external id"'])
           END AS a
    FROM kinds
)
SELECT file_idx, rank, kind, ph, cat, name,
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
