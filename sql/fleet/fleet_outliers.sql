-- fleet_outliers: ranks whose per-rank figures stand out from the fleet, by robust statistics.
-- Grain: one row per rank x metric (step_ns, gpu_busy_ns, compute_ns, comm_ns, comm_exposed_ns, waited_ns,
-- caused_wait_ns of fleet_ranks).
-- * robust_z = (value - median) / (1.4826 * MAD), the median absolute deviation scaled to a standard deviation
--   for normal data; when more than half the ranks share one value (MAD 0) the mean absolute deviation
--   (scaled by 1.2533) stands in, and when that is 0 too nothing stands out.
-- * outlier: |robust_z| > z_crit. The caller derives z_crit from the fleet size (a two-sided 5 % chance, across
--   all ranks, of flagging a rank of a fleet whose ranks are alike), so the bar rises with the number of ranks
--   instead of being a fixed number of milliseconds or sigmas that means one thing at 8 ranks and another at 1024.
-- Columns: rank, metric, value, median, mad, robust_z, outlier.
-- Parameters: z_crit (the |robust_z| above which a rank is an outlier).
CREATE OR REPLACE MACRO fleet_outliers(z_crit) AS TABLE
WITH m AS (
    UNPIVOT (
        SELECT rank, CAST(step_ns AS DOUBLE) AS step_ns, CAST(gpu_busy_ns AS DOUBLE) AS gpu_busy_ns,
               CAST(compute_ns AS DOUBLE) AS compute_ns, CAST(comm_ns AS DOUBLE) AS comm_ns,
               CAST(comm_exposed_ns AS DOUBLE) AS comm_exposed_ns, CAST(waited_ns AS DOUBLE) AS waited_ns,
               CAST(caused_wait_ns AS DOUBLE) AS caused_wait_ns
        FROM fleet_ranks
    ) ON step_ns, gpu_busy_ns, compute_ns, comm_ns, comm_exposed_ns, waited_ns, caused_wait_ns
    INTO NAME metric VALUE value
),
med AS (SELECT metric, median(value) AS median FROM m GROUP BY metric),
dev AS (
    SELECT m.metric, median(abs(m.value - med.median)) AS mad, avg(abs(m.value - med.median)) AS meanad
    FROM m JOIN med USING (metric) GROUP BY m.metric
),
z AS (
    SELECT m.rank, m.metric, m.value, med.median, dev.mad,
           CASE WHEN dev.mad > 0 THEN (m.value - med.median) / (1.4826 * dev.mad)
                WHEN dev.meanad > 0 THEN (m.value - med.median) / (1.2533 * dev.meanad)
                ELSE 0 END AS robust_z
    FROM m JOIN med USING (metric) JOIN dev USING (metric)
)
SELECT *, abs(robust_z) > z_crit AS outlier FROM z
