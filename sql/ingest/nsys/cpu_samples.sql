-- cpu_samples: COMPOSITE_EVENTS -> model table `cpu_samples`. Only periodic samples are kept (cpuCycles > 0):
-- rows with 0 are backtraces taken at context switches, not time-based samples. The sample id doubles as the
-- stack id (SAMPLING_CALLCHAINS is keyed by it). No parameters.
SELECT
    c.id AS sample_id,
    c."start" AS ts_ns,
    (c.globalTid >> 24) & 16777215 AS pid,
    c.globalTid & 16777215 AS tid,
    c.cpu AS cpu,
    CASE c.threadState WHEN 1 THEN 'running' WHEN 2 THEN 'interruptible' WHEN 3 THEN 'uninterruptible'
        WHEN 4 THEN 'stopped' WHEN 7 THEN 'waiting' WHEN 8 THEN 'os_runtime' ELSE 'unknown' END AS state,
    CAST(NULL AS BOOLEAN) AS holds_gil,
    c.id AS stack_id,
    'nsys' AS source
FROM COMPOSITE_EVENTS c
WHERE coalesce(c.cpuCycles, 1) > 0
