-- phase_ranges: annotation ranges that name an inference phase: 'prefill' ((?i)^(prefill|context phase)...) or
-- 'decode' ((?i)^(decode|decoding)...), followed by nothing or a separator. A step takes the phase of the phase
-- range that overlaps it most, which is the step itself when the step range is named decode_N.
-- Columns: range_id, pid, tid, start_ns, end_ns, phase. No parameters.
CREATE OR REPLACE VIEW phase_ranges AS
SELECT range_id, pid, tid, start_ns, end_ns, phase
FROM (
    SELECT *,
           CASE
               WHEN regexp_matches(name, '(?i)^(prefill|context[ _]phase)([ _#:.-].*)?$') THEN 'prefill'
               WHEN regexp_matches(name, '(?i)^(decode|decoding)([ _#:.-].*)?$') THEN 'decode'
           END AS phase
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation'
)
WHERE phase IS NOT NULL
