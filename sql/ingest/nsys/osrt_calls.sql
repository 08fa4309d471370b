-- osrt_calls: OSRT_API (eventClass 27, OS runtime) -> model table `osrt_calls`.
-- Names are StringIds ids (__sid columns; see inferscope/ingest/strings.py). No parameters.
SELECT
    o."start" AS start_ns, o."end" AS end_ns, o."end" - o."start" AS dur_ns,
    (o.globalTid >> 24) & 16777215 AS pid,
    o.globalTid & 16777215 AS tid,
    s.id AS name__sid,
    o.returnValue AS return_value,
    o.nestingLevel AS nesting_level
FROM OSRT_API o
LEFT JOIN StringIds s ON s.id = o.nameId
WHERE o.eventClass = 27 OR o.eventClass IS NULL
