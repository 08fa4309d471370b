-- api_calls: CUPTI_ACTIVITY_KIND_RUNTIME -> model table `api_calls`.
-- eventClass 67 rows are --cudabacktrace duplicates of real calls (same correlationId) and are dropped so no call
-- is counted twice. `name` folds version suffixes (_v3020, _v11060) and per-thread-stream suffixes (_ptsz,
-- _ptds) so one API has one name (folded once per distinct string, not per call); raw_name is a StringIds id
-- (__sid; see inferscope/ingest/strings.py). No parameters.
SELECT
    r."start" AS start_ns, r."end" AS end_ns, r."end" - r."start" AS dur_ns,
    (r.globalTid >> 24) & 16777215 AS pid,
    r.globalTid & 16777215 AS tid,
    r.correlationId AS correlation_id,
    s.name AS name,
    s.id AS raw_name__sid,
    CASE r.eventClass WHEN 0 THEN 'runtime' WHEN 1 THEN 'driver' WHEN 28 THEN 'cudnn' WHEN 29 THEN 'cublas'
        ELSE 'other' END AS api_kind,
    r.returnValue AS return_value
FROM CUPTI_ACTIVITY_KIND_RUNTIME r
LEFT JOIN (SELECT id, regexp_replace(value, '(_v[0-9]+|_ptsz|_ptds)+$', '') AS name FROM StringIds) s
    ON s.id = r.nameId
WHERE r.eventClass IS DISTINCT FROM 67
