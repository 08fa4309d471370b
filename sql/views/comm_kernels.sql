-- comm_kernels: the distinct kernel names that are communication, with their family: each distinct kernels.name
-- tested against comm_kernel_patterns (a trace has millions of kernels but hundreds of names, so the regexes run
-- per name). gpu_ops.is_comm and the communication rules read this view; nothing else decides what communication
-- is. Grain: one row per communication kernel name. No parameters.
CREATE OR REPLACE VIEW comm_kernels AS
SELECT n.name, arg_min(p.family, p.priority) AS family
FROM (SELECT DISTINCT name FROM kernels WHERE name IS NOT NULL) n
JOIN comm_kernel_patterns p ON regexp_matches(n.name, p.pattern)
GROUP BY n.name
