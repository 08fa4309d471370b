-- report_top_ranges: the annotated ranges (NVTX, PyTorch annotations) that take the most wall time, by name,
-- with their call counts. Nested ranges each count their full duration, as nsys stats nvtx_sum does. PyTorch's
-- emit_nvtx appends ", seq = N, op_id = M, sizes = [...]" to every op, which makes each name unique: that
-- suffix is dropped so ranges group by op name.
-- params: report_top_n (SET VARIABLE report_top_n = 10), rows returned.
-- Grain: one row per (name, category), most time first.
CREATE OR REPLACE VIEW report_top_ranges(
    -- Range text ("domain:name" for a non-default NVTX domain).
    name,
    -- nvtx | user_annotation | cpu_op | profiler_step | ...
    category,
    -- Occurrences.
    instances,
    -- Summed duration, ns.
    total_ns,
    -- Mean duration, ns.
    avg_ns,
    -- Longest, ns.
    max_ns
) AS
WITH by_text AS (
    -- group the raw text first: repeated names (every non-PyTorch range) collapse before the regex runs
    SELECT name, domain, category, count(*) AS n, sum(dur_ns) AS total_ns, max(dur_ns) AS max_ns
    FROM nvtx_ranges
    GROUP BY ALL
)
SELECT CASE WHEN domain IS NOT NULL THEN domain || ':' ELSE '' END
           || regexp_replace(coalesce(name, ''), ',\s*(seq|op_id|sizes|input_op_ids)\s*=.*$', ''),
       category, CAST(sum(n) AS BIGINT), CAST(sum(total_ns) AS BIGINT), CAST(sum(total_ns) AS DOUBLE) / sum(n),
       max(max_ns)
FROM by_text
GROUP BY ALL
ORDER BY 4 DESC, 1
LIMIT getvariable('report_top_n')
