-- osrt_calls: OSRT_API (eventClass 27, OS runtime) -> model table `osrt_calls`. No parameters.
SELECT
    o."start" AS start_ns, o."end" AS end_ns, o."end" - o."start" AS dur_ns,
    (o.globalTid >> 24) & 16777215 AS pid,
    o.globalTid & 16777215 AS tid,
    s.value AS name,
    o.returnValue AS return_value,
    o.nestingLevel AS nesting_level
FROM OSRT_API o
LEFT JOIN StringIds s ON s.id = o.nameId
WHERE o.eventClass = 27 OR o.eventClass IS NULL
