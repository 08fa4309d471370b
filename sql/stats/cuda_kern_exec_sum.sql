-- cuda_kern_exec_sum: kernel launches per (process, thread, device, launch API, kernel), as `nsys stats -r
-- cuda_kern_exec_sum`: API time (call duration), queue time (kernel start - API end; NULL when negative),
-- kernel time, and total time max(API end, kernel end) - API start. Kernels join their launch call on
-- correlation id and pid (the same join as view cuda_launches, written against the tables so the join is not
-- planned through that view's union of kernels, copies and memsets). No parameters.
WITH kernel_names AS (
    -- typically a few dozen distinct names of ~200 characters: the join and the grouping carry an integer id
    -- instead, so the strings are not copied per launch (measured on 1M kernels: peak RSS 485 -> 259 MB)
    SELECT name, row_number() OVER () AS name_id FROM (SELECT DISTINCT name FROM kernels)
),
runkern AS (
    SELECT a.pid, a.tid, k.device_id, a.name AS api_name, n.name_id,
           a.dur_ns AS a, CASE WHEN k.start_ns - a.end_ns >= 0 THEN k.start_ns - a.end_ns END AS q,
           k.dur_ns AS k, greatest(a.end_ns, k.end_ns) - a.start_ns AS t
    FROM kernels k
    JOIN kernel_names n ON n.name IS NOT DISTINCT FROM k.name
    JOIN api_calls a ON a.correlation_id = k.correlation_id AND a.pid = k.pid
),
summary AS (
SELECT pid AS "PID", tid AS "TID", device_id AS "DevId", count(*) AS "Count", count(q) AS "QCount",
       avg(t) AS "TAvg (ns)", quantile_cont(t, 0.5) AS "TMed (ns)", min(t) AS "TMin (ns)", max(t) AS "TMax (ns)",
       coalesce(stddev_samp(t), 0) AS "TStdDev (ns)",
       avg(a) AS "AAvg (ns)", quantile_cont(a, 0.5) AS "AMed (ns)", min(a) AS "AMin (ns)", max(a) AS "AMax (ns)",
       coalesce(stddev_samp(a), 0) AS "AStdDev (ns)",
       avg(q) AS "QAvg (ns)", quantile_cont(q, 0.5) AS "QMed (ns)", min(q) AS "QMin (ns)", max(q) AS "QMax (ns)",
       coalesce(stddev_samp(q), 0) AS "QStdDev (ns)",
       avg(k) AS "KAvg (ns)", quantile_cont(k, 0.5) AS "KMed (ns)", min(k) AS "KMin (ns)", max(k) AS "KMax (ns)",
       coalesce(stddev_samp(k), 0) AS "KStdDev (ns)",
       api_name AS "API Name", name_id
FROM runkern
GROUP BY pid, tid, device_id, api_name, name_id
)
SELECT s.* EXCLUDE (name_id), n.name AS "Kernel Name"
FROM summary s JOIN kernel_names n USING (name_id)
ORDER BY "TAvg (ns)" DESC, "Kernel Name"
