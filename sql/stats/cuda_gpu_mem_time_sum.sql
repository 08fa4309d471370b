-- cuda_gpu_mem_time_sum: GPU memory operations (memcpy by copy kind, and memset) summarised by duration, as
-- `nsys stats -r cuda_gpu_mem_time_sum`. Operation labels follow nsys: "[CUDA memcpy HtoD]", "[CUDA memset]".
-- No parameters.
WITH ops AS (
    SELECT CASE WHEN copy_kind BETWEEN 11 AND 13
                THEN '[CUDA Unified Memory memcpy ' || replace(copy_kind_name, 'Unified ', '') || ']'
                ELSE '[CUDA memcpy ' || copy_kind_name || ']' END AS operation,
           dur_ns
    FROM memcpy
    UNION ALL
    SELECT '[CUDA memset]', dur_ns FROM memset
),
summary AS (
    SELECT operation,
           CAST(sum(dur_ns) AS BIGINT) AS total, count(*) AS num, avg(dur_ns) AS avg_ns,
           quantile_cont(dur_ns, 0.5) AS med_ns, min(dur_ns) AS min_ns, max(dur_ns) AS max_ns,
           coalesce(stddev_samp(dur_ns), 0) AS std_ns
    FROM ops
    GROUP BY operation
)
SELECT total * 100.0 / sum(total) OVER () AS "Time (%)",
       total AS "Total Time (ns)", num AS "Count", avg_ns AS "Avg (ns)", med_ns AS "Med (ns)",
       min_ns AS "Min (ns)", max_ns AS "Max (ns)", std_ns AS "StdDev (ns)", operation AS "Operation"
FROM summary
ORDER BY total DESC, operation
