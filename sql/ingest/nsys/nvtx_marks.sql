-- nvtx_marks: NVTX_EVENTS marks (eventType 34) -> model table `nvtx_marks`. No parameters.
WITH domains AS (
    SELECT domainId, (globalTid >> 24) & 16777215 AS pid, min_by(text, "start") AS name
    FROM NVTX_EVENTS WHERE eventType = 75
    GROUP BY 1, 2
)
SELECT
    n."start" AS ts_ns,
    (n.globalTid >> 24) & 16777215 AS pid,
    n.globalTid & 16777215 AS tid,
    coalesce(s.value, n.text) AS name,
    d.name AS domain,
    n.payloadInt AS payload_int,
    n.payloadDouble AS payload_double,
    coalesce(CAST(n.jsonText AS VARCHAR), j.value) AS payload_json
FROM NVTX_EVENTS n
LEFT JOIN StringIds s ON s.id = n.textId
LEFT JOIN StringIds j ON j.id = n.jsonTextId
LEFT JOIN domains d ON d.domainId = n.domainId AND d.pid = (n.globalTid >> 24) & 16777215
WHERE n.eventType = 34
