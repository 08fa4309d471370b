-- annotation_batches: one row per batch the annotations describe. Ranges with a `batch` attribute are grouped
-- by (pid, batch); a range with only `batch_size` is a batch of its own. Tokens are summed over the batch's
-- ranges (put `tokens` on the innermost scopes only, or they count twice). Grain: one row per batch.
-- No parameters.
CREATE OR REPLACE VIEW annotation_batches(
    -- process.
    pid,
    -- the `batch` attribute (NULL for a batch_size-only range).
    batch,
    -- range_id of the first range of the batch.
    first_range_id,
    -- batch interval: first start to last end, ns.
    start_ns, end_ns, dur_ns,
    -- ranges in the batch and how many of them have the most common name (steps, e.g. decode iterations).
    ranges, steps,
    -- largest batch_size attribute seen in the batch.
    max_batch_size,
    -- mean batch_size over its ranges that carry one.
    mean_batch_size,
    -- distinct request ids named by its ranges.
    requests,
    -- tokens summed over its ranges, and per second of batch time.
    tokens, tokens_per_s,
    -- GPU kernel time launched inside its ranges (nested ranges counted once per range), ns.
    gpu_ns
) AS
WITH members AS (
    SELECT r.*, coalesce('b:' || r.batch, 'r:' || r.range_id) AS batch_key
    FROM annotation_ranges r
    WHERE r.batch IS NOT NULL OR r.batch_size IS NOT NULL
),
names AS (
    SELECT pid, batch_key, name, count(*) AS n,
           row_number() OVER (PARTITION BY pid, batch_key ORDER BY count(*) DESC, name) AS rk
    FROM members GROUP BY pid, batch_key, name
),
reqs AS (
    SELECT pid, batch_key, count(DISTINCT request) AS requests
    FROM (SELECT pid, batch_key, unnest(requests) AS request FROM members)
    GROUP BY ALL
)
SELECT m.pid, any_value(m.batch), min(m.range_id), min(m.start_ns), max(m.end_ns), max(m.end_ns) - min(m.start_ns),
       count(*), any_value(n.n), max(m.batch_size), avg(m.batch_size), coalesce(any_value(q.requests), 0),
       sum(m.tokens),
       sum(m.tokens) * 1e9 / nullif(max(m.end_ns) - min(m.start_ns), 0),
       sum(m.gpu_ns) FILTER (WHERE m.depth = (SELECT min(depth) FROM members x
                                              WHERE x.pid = m.pid AND x.batch_key = m.batch_key))
FROM members m
LEFT JOIN names n ON n.pid = m.pid AND n.batch_key = m.batch_key AND n.rk = 1
LEFT JOIN reqs q ON q.pid = m.pid AND q.batch_key = m.batch_key
GROUP BY m.pid, m.batch_key
