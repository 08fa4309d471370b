-- nvtx_marks: NVTX_EVENTS marks (eventType 34) -> model table `nvtx_marks`. Text and domain names are string
-- ids (__sid columns, inline texts as _text_sid; see inferscope/ingest/strings.py). No parameters.
WITH domains AS (
    SELECT domainId, (globalTid >> 24) & 16777215 AS pid, min_by(_text_sid, "start") AS name_sid
    FROM NVTX_EVENTS WHERE eventType = 75
    GROUP BY 1, 2
)
SELECT
    n."start" AS ts_ns,
    (n.globalTid >> 24) & 16777215 AS pid,
    n.globalTid & 16777215 AS tid,
    coalesce(s.id, n._text_sid) AS name__sid,
    d.name_sid AS domain__sid,
    n.payloadInt AS payload_int,
    n.payloadDouble AS payload_double,
    coalesce(CAST(n.jsonText AS VARCHAR), j.value) AS payload_json
FROM NVTX_EVENTS n
LEFT JOIN StringIds s ON s.id = n.textId
LEFT JOIN StringIds j ON j.id = n.jsonTextId
LEFT JOIN domains d ON d.domainId = n.domainId AND d.pid = (n.globalTid >> 24) & 16777215
WHERE n.eventType = 34
