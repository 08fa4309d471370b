-- kineto memcpy: GPU copies (cat gpu_memcpy / Memcpy) -> model table `memcpy`.
-- The kind and memory kinds come from the name, "Memcpy HtoD (Pageable -> Device)"; copy_kind is the CUPTI code
-- of that label (HtoD 1, DtoH 2, HtoA 3, AtoH 4, AtoA 5, AtoD 6, DtoA 7, DtoD 8, HtoH 9, PtoP 10). bytes from
-- args (absent on ROCm traces: NULL). Input: `_kineto_events`, `_kineto_launch_pids`. No parameters.
WITH c AS (
    SELECT e.*,
           coalesce(nullif(regexp_extract(e.name, 'Memcpy\s+(\w+)', 1), ''), e.args->>'$.kind') AS kind_label,
           regexp_extract(e.name, '\(\s*([^)]*?)\s*->\s*([^)]*?)\s*\)', ['src', 'dst']) AS mem,
           TRY_CAST(e.args->>'$.bytes' AS BIGINT) AS nbytes
    FROM _kineto_events e
    WHERE e.kind = 'memcpy'
)
SELECT
    c.start_ns, c.start_ns + c.dur_ns AS end_ns, c.dur_ns,
    c.device AS device_id, c.context AS context_id, c.stream AS stream_id, c.correlation AS correlation_id,
    coalesce(l.pid, m.pid) AS pid,
    c.nbytes AS bytes,
    CASE c.kind_label WHEN 'HtoD' THEN 1 WHEN 'DtoH' THEN 2 WHEN 'HtoA' THEN 3 WHEN 'AtoH' THEN 4
        WHEN 'AtoA' THEN 5 WHEN 'AtoD' THEN 6 WHEN 'DtoA' THEN 7 WHEN 'DtoD' THEN 8 WHEN 'HtoH' THEN 9
        WHEN 'PtoP' THEN 10 END AS copy_kind,
    c.kind_label AS copy_kind_name,
    nullif(c.mem.src, '') AS src_kind,
    nullif(c.mem.dst, '') AS dst_kind,
    CASE WHEN c.mem.src = 'Device' THEN c.device END AS src_device_id,
    CASE WHEN c.mem.dst = 'Device' THEN c.device END AS dst_device_id
FROM c
LEFT JOIN _kineto_launch_pids l ON l.file_idx = c.file_idx AND l.correlation = c.correlation
LEFT JOIN _kineto_launch_pids m ON m.file_idx = c.file_idx AND m.correlation IS NULL
