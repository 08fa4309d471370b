-- phase_ranges: annotation ranges that name an inference phase: 'prefill' (prefill, context phase) or 'decode'
-- (decode, decoding), case-insensitive, followed by nothing or a separator ((?i)^(prefill|...)([ _#:.-].*)?$).
-- A step takes the phase of the phase range that overlaps it most, which is the step itself when the step range
-- is named decode_N. Columns: range_id, pid, tid, start_ns, end_ns, phase. No parameters.
CREATE OR REPLACE VIEW phase_ranges AS
SELECT range_id, pid, tid, start_ns, end_ns,
       CASE WHEN lower(word) IN ('prefill', 'context phase', 'context_phase') THEN 'prefill' ELSE 'decode' END AS phase
FROM (
    SELECT *, regexp_extract(name, '(?i)^(prefill|context[ _]phase|decode|decoding)([ _#:.-].*)?$', 1) AS word
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation'
)
WHERE word <> ''
