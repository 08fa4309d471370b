-- hta_gpu_coverage: per device, the timeline cut into segments by every GPU operation start and end, each
-- labelled with which HTA kernel types run during it: state bit 1 = COMPUTATION, 2 = COMMUNICATION,
-- 4 = MEMORY, 8 = OTHER (state 0 = the GPU is idle). It is the interval union of each type in one sorted
-- sweep: a type covers a segment when more of its operations have started than ended (the four running counts
-- are packed into 16-bit fields of one integer so that one window sum carries them). At equal times ends are
-- applied before starts, so touching operations leave no idle segment. Segments of zero length are dropped.
-- Columns: device_id, start_ns, end_ns, dur_ns, state. Requires: hta_gpu_ops. No parameters.
CREATE OR REPLACE VIEW hta_gpu_coverage AS
WITH weighted AS (
    SELECT device_id, start_ns, end_ns,
           CASE kernel_type WHEN 'COMPUTATION' THEN 1 WHEN 'COMMUNICATION' THEN 65536
                WHEN 'MEMORY' THEN 4294967296 ELSE 281474976710656 END AS w
    FROM hta_gpu_ops
),
edges AS (
    SELECT device_id, start_ns AS t, w FROM weighted
    UNION ALL
    SELECT device_id, end_ns, -w FROM weighted
),
sweep AS (
    SELECT device_id, t, sum(w) OVER win AS packed, lead(t) OVER win AS next_t
    FROM edges
    WINDOW win AS (PARTITION BY device_id ORDER BY t, w ROWS UNBOUNDED PRECEDING)
)
SELECT device_id, t AS start_ns, next_t AS end_ns, next_t - t AS dur_ns,
       CAST(packed & 65535 > 0 AS INTEGER) + 2 * CAST((packed >> 16) & 65535 > 0 AS INTEGER)
           + 4 * CAST((packed >> 32) & 65535 > 0 AS INTEGER) + 8 * CAST((packed >> 48) > 0 AS INTEGER) AS state
FROM sweep
WHERE next_t > t
