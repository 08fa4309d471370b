-- cuda_gpu_kern_gb_sum: GPU kernels summarised by name + grid + block dimensions (current nsys
-- cuda_gpu_kern_gb_sum; the grouping nsys 2022.4 used for gpukernsum). GridXYZ/BlockXYZ are "x y z". No
-- parameters.
WITH summary AS (
    SELECT name, grid_x, grid_y, grid_z, block_x, block_y, block_z,
           CAST(sum(dur_ns) AS BIGINT) AS total, count(*) AS num, avg(dur_ns) AS avg_ns,
           quantile_cont(dur_ns, 0.5) AS med_ns, min(dur_ns) AS min_ns, max(dur_ns) AS max_ns,
           coalesce(stddev_samp(dur_ns), 0) AS std_ns
    FROM kernels
    GROUP BY ALL
)
SELECT total * 100.0 / sum(total) OVER () AS "Time (%)",
       total AS "Total Time (ns)", num AS "Instances", avg_ns AS "Avg (ns)", med_ns AS "Med (ns)",
       min_ns AS "Min (ns)", max_ns AS "Max (ns)", std_ns AS "StdDev (ns)",
       concat_ws(' ', grid_x, grid_y, grid_z) AS "GridXYZ",
       concat_ws(' ', block_x, block_y, block_z) AS "BlockXYZ",
       name AS "Name"
FROM summary
ORDER BY total DESC, num, name
