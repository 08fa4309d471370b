-- fleet_straggler_causes: what the straggler was doing before each collective it arrived last at, against the
-- other ranks over the same stretch (rank_before_arrival).
-- Grain: one row per collective at which the straggler (fleet_straggler) arrived last x cause.
-- * late_ns: its arrival minus the median arrival of the other ranks.
-- * cause / excess_ns: how much more of each kind of time it spent than the median other rank:
--   'late start' (its window began later: for the first collective, a later step start; before that the trace
--   does not see), 'longer GPU work' (non-communication GPU time; detail names its longest kernel),
--   'sync' (host synchronising calls), 'data loading' (data-loading ranges), 'host gap' (GPU idle that neither
--   explains). The excesses add up to about late_ns (medians of parts need not add to the median of the whole).
-- * straggler_ns / others_median_ns: the two figures compared.
-- Columns: rank, seq, kind, late_ns, cause, excess_ns, straggler_ns, others_median_ns, detail.
-- No parameters.
CREATE OR REPLACE VIEW fleet_straggler_causes AS
WITH s AS (SELECT rank FROM fleet_straggler),
cols AS (SELECT seq, kind FROM fleet_collectives WHERE last_rank = (SELECT rank FROM s)),
b AS (
    -- window starts as offsets from the earliest: epoch nanoseconds do not fit a double exactly
    SELECT b.*, (b.rank = (SELECT rank FROM s)) AS mine,
           b.window_start_ns - min(b.window_start_ns) OVER (PARTITION BY b.seq) AS start_offset_ns
    FROM fleet_rank_before_arrival b JOIN cols USING (seq)
),
parts AS (
    UNPIVOT (
        SELECT rank, seq, mine, longest_kernel, longest_kernel_ns,
               CAST(start_offset_ns AS DOUBLE) AS "late start", CAST(gpu_ns AS DOUBLE) AS "longer GPU work",
               CAST(sync_ns AS DOUBLE) AS "sync", CAST(data_ns AS DOUBLE) AS "data loading",
               CAST(host_gap_ns AS DOUBLE) AS "host gap"
        FROM b
    ) ON "late start", "longer GPU work", "sync", "data loading", "host gap" INTO NAME cause VALUE v
),
cmp AS (
    SELECT seq, cause,
           max(v) FILTER (WHERE mine) AS straggler_v,
           median(v) FILTER (WHERE NOT mine) AS others_v,
           max(longest_kernel) FILTER (WHERE mine) AS longest_kernel,
           max(longest_kernel_ns) FILTER (WHERE mine) AS longest_kernel_ns,
           median(longest_kernel_ns) FILTER (WHERE NOT mine) AS others_longest_ns
    FROM parts GROUP BY seq, cause
),
late AS (
    SELECT a.seq,
           CAST(round(max(a.arrival_ns - a.first_arrival_ns) FILTER (WHERE a.rank = (SELECT rank FROM s))
                      - median(a.arrival_ns - a.first_arrival_ns) FILTER (WHERE a.rank <> (SELECT rank FROM s)))
                AS BIGINT) AS late_ns
    FROM fleet_arrivals a JOIN cols USING (seq) GROUP BY a.seq
)
SELECT (SELECT rank FROM s) AS rank, cmp.seq, cols.kind, late.late_ns, cmp.cause,
       CAST(round(cmp.straggler_v - cmp.others_v) AS BIGINT) AS excess_ns,
       -- a start time is shown as its offset from the other ranks' median start, not as an epoch
       CAST(CASE WHEN cmp.cause = 'late start' THEN cmp.straggler_v - cmp.others_v ELSE cmp.straggler_v END AS BIGINT)
           AS straggler_ns,
       CAST(CASE WHEN cmp.cause = 'late start' THEN 0 ELSE cmp.others_v END AS BIGINT) AS others_median_ns,
       CASE WHEN cmp.cause = 'longer GPU work' AND cmp.longest_kernel IS NOT NULL
            THEN cmp.longest_kernel || ' ' || CAST(cmp.longest_kernel_ns AS BIGINT) || ' ns (others'' median longest '
                 || coalesce(CAST(CAST(cmp.others_longest_ns AS BIGINT) AS VARCHAR), '-') || ' ns)'
       END AS detail
FROM cmp JOIN cols USING (seq) JOIN late USING (seq)
