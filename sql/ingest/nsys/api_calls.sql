-- api_calls: CUPTI_ACTIVITY_KIND_RUNTIME -> model table `api_calls`.
-- eventClass 67 rows are --cudabacktrace duplicates of real calls (same correlationId) and are dropped so no call
-- is counted twice. `name` folds version suffixes (_v3020, _v11060) and per-thread-stream suffixes (_ptsz,
-- _ptds) so one API has one name. No parameters.
SELECT
    r."start" AS start_ns, r."end" AS end_ns, r."end" - r."start" AS dur_ns,
    (r.globalTid >> 24) & 16777215 AS pid,
    r.globalTid & 16777215 AS tid,
    r.correlationId AS correlation_id,
    regexp_replace(s.value, '(_v[0-9]+|_ptsz|_ptds)+$', '') AS name,
    s.value AS raw_name,
    CASE r.eventClass WHEN 0 THEN 'runtime' WHEN 1 THEN 'driver' WHEN 28 THEN 'cudnn' WHEN 29 THEN 'cublas'
        ELSE 'other' END AS api_kind,
    r.returnValue AS return_value
FROM CUPTI_ACTIVITY_KIND_RUNTIME r
LEFT JOIN StringIds s ON s.id = r.nameId
WHERE r.eventClass IS DISTINCT FROM 67
