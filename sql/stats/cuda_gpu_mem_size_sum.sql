-- cuda_gpu_mem_size_sum: GPU memory operations summarised by bytes moved, as `nsys stats -r
-- cuda_gpu_mem_size_sum`. InferScope reports bytes (nsys prints MB = 1e6 bytes, rounded to 3 decimals).
-- No parameters.
WITH ops AS (
    SELECT CASE WHEN copy_kind BETWEEN 11 AND 13
                THEN '[CUDA Unified Memory memcpy ' || replace(copy_kind_name, 'Unified ', '') || ']'
                ELSE '[CUDA memcpy ' || copy_kind_name || ']' END AS operation,
           bytes
    FROM memcpy
    UNION ALL
    SELECT '[CUDA memset]', bytes FROM memset
)
SELECT CAST(sum(bytes) AS BIGINT) AS "Total (B)", count(*) AS "Count", avg(bytes) AS "Avg (B)",
       quantile_cont(bytes, 0.5) AS "Med (B)", min(bytes) AS "Min (B)", max(bytes) AS "Max (B)",
       coalesce(stddev_samp(bytes), 0) AS "StdDev (B)", operation AS "Operation"
FROM ops
GROUP BY operation
ORDER BY sum(bytes) DESC, operation
