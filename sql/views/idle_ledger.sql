-- idle_ledger: one owner per idle nanosecond. Every GPU idle gap of every device inside its active span
-- (gpu_idle_gaps, via gpu_idle_causes) gets exactly one cause, judged from the evidence the trace holds (view
-- idle_verdicts makes the judgement; this view adds the ranges, samples and owner), in this precedence (first
-- match wins; "most" is half the gap):
--   sync        the process was blocked in host waits that returned inside the gap for most of it (sync_stalls:
--               stream/device/event synchronisation, synchronous or pageable device-to-host copies, cudaFree);
--   copy        the next operation is a copy (or memset) whose call began before the gap's midpoint: the host
--               was inside the call that issued it (staging pageable memory, a synchronous copy);
--   load        a library/module load or JIT compilation covered most of the gap on the launching thread (CUDA
--               module/library loading and NVRTC calls, dlopen in the OS runtime calls, an annotation range
--               named like compiling/JIT/autotuning/module loading), or the launch call of the next kernel
--               itself lasted most of the gap and at least 1 ms (view first_use_loads: the driver loading the
--               kernel's module on first use, CUDA lazy loading);
--   profiler    profiler overhead rows of the process (buffer flushes) covered most of the gap;
--   dependency  the next operation was queued before the gap began and the launching thread had issued a
--               cross-stream wait (cudaStreamWaitEvent/cuStreamWaitEvent or a CUPTI stream_wait_event record)
--               since the previous launch on that stream: it waited on another stream's event;
--   queued      the next operation was queued before the gap began with no recorded cross-stream wait: the GPU's
--               own launch latency between back-to-back work (or a wait the trace does not show), never called
--               a dependency without evidence;
--   launch      the launching thread spent most of the gap inside CUDA API calls, or (Kineto traces) in the middle
--               of the gap it was already inside the framework operator (category cpu_op, e.g. aten::mm) that made
--               the next launch call, and no Python samples say otherwise: the operator's dispatch on its way to
--               the launch (launch overhead);
--   host        the launching thread spent most of the gap outside CUDA calls (CPU work);
--   unknown     none of the above can be told (the next operation has no recorded launch call).
-- Evidence per gap: evidence_name (the call or range that decided the cause), evidence_pid/tid/start_ns/
-- correlation_id (where that call was made), culprit_range (the innermost annotation range, e.g. a Kineto
-- cpu_op such as aten::item, open on that thread when the evidence call began) and context_range (the
-- outermost one); for host and launch gaps, nvtx_range is the innermost range open on the launching thread in the
-- middle of the gap, and py_function/py_file/py_line/py_samples the Python code most sampled on that thread in
-- the gap (bundles with Python samples only), cpu_function/cpu_samples the innermost native function most sampled
-- there (nsys CPU sampling). owner names the rule that reports the gap's idle time
-- (cold_start for a gap whose middle lies in its process's warm-up window, view warmup: start-up idle is that rule's
-- whatever its cause), so that the impacts of all rules together never exceed the idle time.
-- Grain: one row per gap. Columns: gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, next_op_id,
-- next_op_kind, next_api_name, cause, sync_kind, evidence_name, evidence_pid, evidence_tid, evidence_start_ns,
-- evidence_correlation_id, culprit_range, context_range, nvtx_range, py_function, py_file, py_line, py_samples,
-- cpu_function, cpu_samples, in_warmup, owner. No parameters.
CREATE OR REPLACE VIEW idle_ledger AS
-- the judgement, read where used: each reader scans its own columns of the derived table (see idle_verdicts.sql)
WITH placed AS NOT MATERIALIZED (
    SELECT * FROM idle_verdicts
),
-- the ranges open at three points of each gap, found in one pass over the ranges (point_id = 3 * gap_id + which):
-- 0 where the evidence call began, 1 the middle of the gap (host and launch gaps), 2 the next launch call (host gaps)
points AS (
    SELECT 3 * gap_id AS point_id, evidence_pid AS pid, evidence_tid AS tid, evidence_start_ns AS ts_ns
    FROM placed WHERE evidence_start_ns IS NOT NULL AND evidence_tid IS NOT NULL
    UNION ALL
    SELECT 3 * gap_id + 1, pid, tid, mid_ns FROM placed WHERE mid_ns IS NOT NULL AND tid IS NOT NULL
    UNION ALL
    SELECT 3 * gap_id + 2, pid, tid, next_api_start_ns
    FROM placed WHERE cause = 'host' AND tid IS NOT NULL AND next_api_start_ns IS NOT NULL
),
at_points AS MATERIALIZED (
    SELECT point_id // 3 AS gap_id, point_id % 3 AS which, innermost_range_id, outermost_range_id
    FROM nvtx_ranges_at(points)
),
at_evidence AS (
    SELECT a.gap_id AS point_id, i.name AS culprit_range, o.name AS context_range
    FROM at_points a
    LEFT JOIN nvtx_ranges i ON i.range_id = a.innermost_range_id
    LEFT JOIN nvtx_ranges o ON o.range_id = a.outermost_range_id
    WHERE a.which = 0
),
at_mid AS (
    SELECT a.gap_id AS point_id, i.name AS nvtx_range
    FROM at_points a
    LEFT JOIN nvtx_ranges i ON i.range_id = a.innermost_range_id
    WHERE a.which = 1
),
host_gaps AS (
    SELECT gap_id, pid, tid, start_ns, end_ns FROM placed WHERE cause = 'host' AND tid IS NOT NULL
),
py AS (
    SELECT h.gap_id, s.code_function, s.code_file, s.code_line, count(*) AS samples
    FROM python_samples s
    ASOF JOIN host_gaps h ON h.pid = s.pid AND h.tid = s.tid AND h.start_ns <= s.ts_ns
    WHERE s.ts_ns < h.end_ns
    GROUP BY ALL
),
-- native CPU samples (nsys --sample=cpu): the innermost function most sampled on the launching thread in the gap
cpu AS (
    SELECT h.gap_id, f.function, count(*) AS samples
    FROM cpu_samples s
    ASOF JOIN host_gaps h ON h.pid = s.pid AND h.tid = s.tid AND h.start_ns <= s.ts_ns
    JOIN stack_frames f ON f.stack_id = s.stack_id AND f.depth = 0
    WHERE s.ts_ns < h.end_ns AND s.source IS DISTINCT FROM 'python'
    GROUP BY ALL
),
cpu_top AS (
    SELECT gap_id, arg_max(function, samples) AS cpu_function, max(samples) AS cpu_samples FROM cpu GROUP BY gap_id
),
py_top AS (
    SELECT gap_id, arg_max(code_function, samples) AS py_function, arg_max(code_file, samples) AS py_file,
           arg_max(code_line, samples) AS py_line, max(samples) AS py_samples
    FROM py GROUP BY gap_id
),
-- whether the copy ending a copy gap reads or writes pageable host memory (the owner of an async one depends on it)
next_copy AS (
    SELECT l.op_id, bool_or(m.src_kind = 'Pageable' OR m.dst_kind = 'Pageable') AS pageable
    FROM cuda_launches l
    JOIN memcpy m ON m.pid = l.pid AND m.correlation_id = l.correlation_id AND m.start_ns = l.kernel_start_ns
    WHERE l.op_kind = 'memcpy' AND l.op_id IN (SELECT next_op_id FROM placed WHERE cause = 'copy')
    GROUP BY l.op_id
),
-- host gaps spent inside the framework operator that then launched the next work: the innermost range around the
-- next launch call is a cpu_op that had already begun in the middle of the gap, and no Python samples say otherwise
dispatch AS (
    SELECT p.gap_id, r.name AS op_name
    FROM at_points a
    JOIN nvtx_ranges r ON r.range_id = a.innermost_range_id
    JOIN placed p ON p.gap_id = a.gap_id
    LEFT JOIN py_top y ON y.gap_id = p.gap_id
    WHERE a.which = 2 AND r.category = 'cpu_op' AND r.start_ns <= p.mid_ns AND y.py_samples IS NULL
),
-- CPU time spent inside a framework operator (a Kineto cpu_op such as aten::add) is the operator's dispatch on
-- its way to the launch: launch overhead of the framework, not other CPU work
settled AS (
    SELECT p.* EXCLUDE (cause, evidence_name, evidence_start_ns),
           CASE WHEN d.gap_id IS NOT NULL THEN 'launch' ELSE p.cause END AS cause,
           CASE WHEN d.gap_id IS NOT NULL THEN d.op_name ELSE p.evidence_name END AS evidence_name,
           CASE WHEN d.gap_id IS NOT NULL THEN p.next_api_start_ns ELSE p.evidence_start_ns END AS evidence_start_ns,
           coalesce(c.pageable, false) AS pageable,
           e.culprit_range, e.context_range, m.nvtx_range, y.py_function, y.py_file, y.py_line, y.py_samples,
           cs.cpu_function, cs.cpu_samples, w.pid IS NOT NULL AS in_warmup
    FROM placed p
    LEFT JOIN warmup w ON w.pid = p.pid AND (p.start_ns + p.end_ns) // 2 BETWEEN w.start_ns AND w.end_ns
    LEFT JOIN next_copy c ON c.op_id = p.next_op_id AND p.cause = 'copy'
    LEFT JOIN at_evidence e ON e.point_id = p.gap_id
    LEFT JOIN at_mid m ON m.point_id = p.gap_id
    LEFT JOIN py_top y ON y.gap_id = p.gap_id
    LEFT JOIN cpu_top cs ON cs.gap_id = p.gap_id
    LEFT JOIN dispatch d ON d.gap_id = p.gap_id
)
SELECT gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, next_op_id, next_op_kind,
       next_api_name, cause, CASE WHEN cause = 'sync' THEN sync_kind END AS sync_kind, evidence_name,
       evidence_pid, evidence_tid, evidence_start_ns, evidence_correlation_id,
       culprit_range, context_range, nvtx_range, py_function, py_file, py_line, py_samples, cpu_function,
       cpu_samples, in_warmup,
       CASE
           WHEN in_warmup THEN 'cold_start'
           WHEN cause = 'sync' AND sync_kind = 'free' THEN 'alloc_churn'
           WHEN cause = 'sync' THEN 'sync_stall'
           WHEN cause = 'copy' AND next_op_kind = 'memset' AND next_api_name NOT ILIKE '%async%'
               THEN 'cuda_memset_sync'
           WHEN cause = 'copy' AND next_op_kind = 'memcpy' AND next_api_name ILIKE '%async%' AND pageable
               THEN 'cuda_memcpy_async'
           WHEN cause = 'copy' AND next_op_kind = 'memcpy' AND next_api_name NOT ILIKE '%async%'
               THEN 'cuda_memcpy_sync'
           WHEN cause = 'launch' THEN 'launch_overhead'
           WHEN cause = 'host' AND py_samples >= 2 THEN 'python_gpu_idle'
           ELSE 'idle_gap_attribution'
       END AS owner
FROM settled
