-- stack_frames: SAMPLING_CALLCHAINS -> model table `stack_frames` (stackDepth 0 = leaf). No parameters.
SELECT
    f.id AS stack_id,
    f.stackDepth AS depth,
    s.value AS function,
    m.value AS file,
    CAST(NULL AS INTEGER) AS line
FROM SAMPLING_CALLCHAINS f
LEFT JOIN StringIds s ON s.id = f.symbol
LEFT JOIN StringIds m ON m.id = f.module
