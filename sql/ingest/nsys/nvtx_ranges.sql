-- nvtx_ranges (before nesting): NVTX_EVENTS push/pop (59, NVTXT 70) and start/end (60, NVTXT 71) ranges.
-- Text is the registered string (textId) when present, else the inline text (_text_sid: the id the converter
-- gave it, see inferscope/ingest/strings.py); the domain name comes from the
-- domain-create row (eventType 75) of the same process. A range without an end is closed at the latest NVTX
-- timestamp, as nsys stats does, and flagged. range_id is the row's position in NVTX_EVENTS (+1);
-- depth/parent_id are filled by inferscope/ingest/nesting.py.
-- No parameters.
WITH domains AS (
    SELECT domainId, (globalTid >> 24) & 16777215 AS pid, min_by(_text_sid, "start") AS name_sid
    FROM NVTX_EVENTS WHERE eventType = 75
    GROUP BY 1, 2
),
last_ts AS (
    SELECT greatest(max("start"), max("end")) AS m FROM NVTX_EVENTS
)
SELECT
    n."start" AS start_ns,
    coalesce(n."end", (SELECT m FROM last_ts)) AS end_ns,
    coalesce(n."end", (SELECT m FROM last_ts)) - n."start" AS dur_ns,
    n._row + 1 AS range_id,
    (n.globalTid >> 24) & 16777215 AS pid,
    n.globalTid & 16777215 AS tid,
    CASE WHEN n.endGlobalTid IS NOT NULL THEN n.endGlobalTid & 16777215 END AS end_tid,
    coalesce(n.endGlobalTid IS NOT NULL AND n.endGlobalTid <> n.globalTid, false) AS cross_thread,
    coalesce(s.id, n._text_sid) AS name__sid,
    d.name_sid AS domain__sid,
    -- ENUMs leave DuckDB as Arrow dictionary columns: no per-row copy of the label
    CAST(CASE WHEN n.eventType IN (59, 70) THEN 'PushPop' ELSE 'StartEnd' END AS ENUM('PushPop', 'StartEnd')) AS style,
    CAST('nvtx' AS ENUM('nvtx')) AS category,
    n."end" IS NULL AS unterminated,
    n.payloadInt AS payload_int,
    n.payloadDouble AS payload_double,
    coalesce(CAST(n.jsonText AS VARCHAR), j.value) AS payload_json
FROM NVTX_EVENTS n
LEFT JOIN StringIds s ON s.id = n.textId
LEFT JOIN StringIds j ON j.id = n.jsonTextId
LEFT JOIN domains d ON d.domainId = n.domainId AND d.pid = (n.globalTid >> 24) & 16777215
WHERE n.eventType IN (59, 60, 70, 71)
