-- rule: launch_overhead
-- title: Kernels shorter than their launch call
-- severity: auto
-- steady_state: true
-- group_by: ledger_owner
-- param min_kernels = 100: report a device when at least this many launched kernels ran shorter than their launch
--   call ...
-- param min_short_frac = 0.3: ... and they are at least this fraction of the kernels launched on it
-- param graph_min_kernels = 20: a process whose median step launches at least this many kernels, with a steady
--   count (p90 <= 1.1 x p50) and no CUDA graphs, is named a CUDA-graph candidate
-- impact: GPU idle the idle ledger (view idle_ledger) gives to launch overhead on the device and process: gaps
--   whose launching thread was inside CUDA API calls, or inside a framework operator's dispatch, for most of the
--   gap; shared among the kernel names in proportion to their short launches; 0 when the GPU was kept busy
--   anyway. One finding for all devices.
-- summary: {all_short:int} of the {all_kernels:int} kernels launched one by one on {gpu} (pid
--   {pid}){others_note} ran shorter than the call that launched them (median kernel {kernel_p50_ns:time} vs
--   launch call {launch_p50_ns:time}); launch-bound idle
--   cost {impact:time}{dispatch_note}. {graph_note}
-- recommendation: Cut the number of launches: capture the repeated step in a CUDA graph (torch.compile
--   mode="reduce-overhead", torch.cuda.graphs, the engine's CUDA-graph option), fuse elementwise kernels
--   (torch.compile, fused optimizers/attention), and batch more work per kernel.
-- why: When a kernel takes less time than the host needs to launch it, the GPU finishes before the next launch
--   arrives: throughput is set by the CPU's launch rate, not the GPU. A CUDA graph launches a whole step in one call.
WITH short_names AS (
    SELECT name, any_value(short_name) AS short_name FROM kernels GROUP BY name
),
launched AS (
    SELECT l.*, coalesce(k.short_name, l.op_name) AS short_name
    FROM cuda_launches l
    LEFT JOIN short_names k ON k.name = l.op_name
    WHERE l.op_kind = 'kernel' AND l.api_name IS NOT NULL AND l.graph_id IS NULL
),
-- the denominator stated: kernels of the process not counted above (CUDA-graph nodes, no recorded launch call)
others AS (
    SELECT pid, count(*) FILTER (WHERE graph_id IS NOT NULL) AS graph_kernels,
           count(*) FILTER (WHERE graph_id IS NULL AND api_name IS NULL) AS unlaunched_kernels
    FROM cuda_launches WHERE op_kind = 'kernel' GROUP BY pid
),
per_device AS (
    SELECT device_id, pid, count(*) AS kernels, count(*) FILTER (WHERE kernel_dur_ns < api_dur_ns) AS short_kernels,
           quantile_cont(kernel_dur_ns, 0.5) AS kernel_p50_ns, quantile_cont(api_dur_ns, 0.5) AS launch_p50_ns
    FROM launched GROUP BY device_id, pid
),
per_name AS (
    SELECT device_id, pid, short_name, count(*) AS kernels,
           count(*) FILTER (WHERE kernel_dur_ns < api_dur_ns) AS short_kernels,
           avg(kernel_dur_ns) AS avg_kernel_ns, avg(api_dur_ns) AS avg_launch_ns
    FROM launched GROUP BY device_id, pid, short_name
),
dispatch_ops AS (  -- the operator named most often (ties by name, so the sentence is the same every run)
    SELECT device_id, pid, evidence_name AS dispatch_op,
           row_number() OVER (PARTITION BY device_id, pid ORDER BY count(*) DESC, evidence_name) AS rank
    FROM idle_ledger
    WHERE owner = 'launch_overhead' AND evidence_name NOT ILIKE 'cu%'
    GROUP BY device_id, pid, evidence_name
),
launch_idle AS (
    SELECT l.*, d.dispatch_op
    FROM (SELECT device_id, pid, sum(dur_ns) AS idle_ns,
                 sum(dur_ns) FILTER (WHERE evidence_name NOT ILIKE 'cu%') AS dispatch_ns
          FROM idle_ledger WHERE owner = 'launch_overhead' GROUP BY device_id, pid) l
    LEFT JOIN dispatch_ops d
           ON d.rank = 1 AND d.device_id IS NOT DISTINCT FROM l.device_id AND d.pid IS NOT DISTINCT FROM l.pid
),
-- the devices (per process) this finding reports
reported AS (
    SELECT * FROM per_device
    WHERE short_kernels > 0 AND short_kernels >= $min_kernels AND short_kernels >= $min_short_frac * kernels
),
-- their kernels, each device counted once. Not a `sum() OVER ()` over the rows below: on DuckDB 1.4.4 (the oldest
-- release pyproject.toml admits) that window over this join fails about once in 300 runs with an internal error
-- ("Attempted to access index 1 within vector of size 1") that invalidates the database
totals AS (
    SELECT sum(kernels) AS all_kernels, sum(short_kernels) AS all_short
    FROM reported WHERE device_id IS NOT NULL AND pid IS NOT NULL  -- the rows the USING join below keeps
),
graphs AS (
    SELECT s.pid, s.kernels_p50, s.kernels_p90, s.step_count,
           s.kernels_p50 >= $graph_min_kernels AND s.kernels_p90 <= 1.1 * s.kernels_p50 AS candidate
    FROM step_summary s
)
SELECT CAST(round(coalesce(i.idle_ns, 0) * n.short_kernels / nullif(d.short_kernels, 0)) AS BIGINT) AS impact_ns,
       n.device_id, n.pid, n.short_name, n.kernels, n.short_kernels, n.avg_kernel_ns, n.avg_launch_ns,
       d.kernel_p50_ns, d.launch_p50_ns, 'launch_overhead' AS ledger_owner,
       t.all_kernels, t.all_short,
       CASE WHEN o.graph_kernels + o.unlaunched_kernels > 0
            THEN ' (' || concat_ws(' and ',
                     CASE WHEN o.graph_kernels > 0
                          THEN format('{:,} more ran as CUDA-graph nodes', o.graph_kernels) END,
                     CASE WHEN o.unlaunched_kernels > 0
                          THEN format('{:,} more have no recorded launch call', o.unlaunched_kernels) END) || ')'
            ELSE '' END AS others_note,
       CASE WHEN i.dispatch_ns > 0
            THEN ', ' || CASE WHEN i.dispatch_ns >= 1e6 THEN printf('%.3g ms', i.dispatch_ns / 1e6)
                              ELSE printf('%.3g µs', i.dispatch_ns / 1e3) END
                 || ' of it while the thread was dispatching framework operators (most often ' || i.dispatch_op
                 || ') before their launch calls'
            ELSE '' END AS dispatch_note,
       CASE WHEN coalesce(o.graph_kernels, 0) > 0 THEN ''  -- it replays CUDA graphs already: no candidate
            WHEN g.candidate
            THEN 'Its steps launch a steady ' || CAST(CAST(g.kernels_p50 AS BIGINT) AS VARCHAR)
                 || ' kernels each (median over ' || CAST(g.step_count AS VARCHAR) || ' steps): a CUDA-graph candidate.'
            WHEN g.kernels_p50 IS NOT NULL
            THEN 'Its steps launch ' || CAST(CAST(g.kernels_p50 AS BIGINT) AS VARCHAR) || ' kernels each (median).'
            ELSE '' END AS graph_note
FROM per_name n
JOIN reported d USING (device_id, pid)
LEFT JOIN launch_idle i USING (device_id, pid)
LEFT JOIN graphs g USING (pid)
LEFT JOIN others o USING (pid)
CROSS JOIN totals t
WHERE n.short_kernels > 0
