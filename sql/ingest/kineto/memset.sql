-- kineto memset: GPU memsets (cat gpu_memset / Memset) -> model table `memset`. The memory kind is the name's
-- parenthesis, "Memset (Device)"; bytes from args; the value written is not recorded by Kineto (NULL).
-- Input: `_kineto_events`, `_kineto_launch_pids`. No parameters.
SELECT
    s.start_ns, s.start_ns + s.dur_ns AS end_ns, s.dur_ns,
    s.device AS device_id, s.context AS context_id, s.stream AS stream_id, s.correlation AS correlation_id,
    coalesce(l.pid, m.pid) AS pid,
    TRY_CAST(s.args->>'$.bytes' AS BIGINT) AS bytes,
    nullif(regexp_extract(s.name, '\(\s*([^)]*?)\s*\)', 1), '') AS mem_kind,
    CAST(NULL AS BIGINT) AS value
FROM _kineto_events s
LEFT JOIN _kineto_launch_pids l ON l.file_idx = s.file_idx AND l.correlation = s.correlation
LEFT JOIN _kineto_launch_pids m ON m.file_idx = s.file_idx AND m.correlation IS NULL
WHERE s.kind = 'memset'
