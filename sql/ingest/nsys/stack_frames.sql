-- stack_frames: SAMPLING_CALLCHAINS -> model table `stack_frames` (stackDepth 0 = leaf).
-- Names are StringIds ids (__sid columns; see inferscope/ingest/strings.py). No parameters.
SELECT
    f.id AS stack_id,
    f.stackDepth AS depth,
    s.id AS function__sid,
    m.id AS file__sid,
    CAST(NULL AS INTEGER) AS line
FROM SAMPLING_CALLCHAINS f
LEFT JOIN StringIds s ON s.id = f.symbol
LEFT JOIN StringIds m ON m.id = f.module
