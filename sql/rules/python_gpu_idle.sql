-- rule: python_gpu_idle
-- title: Python code the GPU waited for
-- severity: auto
-- group_by: device_id, pid, tid, function, file, line
-- param min_gap_ns = 10000000: GPU idle gaps shorter than this (ns) are not examined (at 100 Hz a 10 ms gap holds
--   about one sample)
-- param min_samples = 2: a gap is attributed only when the launching thread has at least this many Python samples
--   inside it
-- impact: for each gap, its length times the share of the launching thread's samples in it that were in this
--   code (view python_samples, innermost frame outside the standard library), for the gaps where this code was the
--   most sampled; summed over those gaps. Only the gaps the idle ledger (view idle_ledger) gives to host CPU work
--   with Python samples are examined, so a gap in which the thread waited or launched is not counted again.
-- summary: {gpu} idled {dur_ns:time} while {thread_name} was in {function} ({file_name}:{line}), {share_pct:pct}
--   of its samples in that gap ({running_pct:pct} of them on a CPU; the gap was {cause}-bound); that code was the
--   launching thread's main activity in {n} idle gap{s}, {impact:time} of GPU idle time.
-- recommendation: Take {function} ({file_name}:{line}) off the path between GPU launches: run it ahead of time or
--   on another thread/process (tokenisation, detokenisation, pre/post-processing, logging), batch it, or overlap
--   it with the previous step's GPU work. Where its samples are mostly not running on a CPU the thread is waiting
--   (a lock, a queue, the GIL held by another thread, I/O): look at what it waits for.
-- why: While the thread that launches GPU work runs other Python code, nothing new reaches the GPU; the samples
--   taken on that thread during the gap name the code responsible. Needs a bundle from `inferscope record`.
WITH gaps AS (
    SELECT gap_id, device_id, start_ns, end_ns, dur_ns, pid, tid, cause
    FROM idle_ledger  -- the host-work gaps with Python samples; waits and launch overhead are other rules' idle
    WHERE owner = 'python_gpu_idle' AND dur_ns >= $min_gap_ns AND tid IS NOT NULL
),
hits AS (
    SELECT g.gap_id, s.code_function, s.code_file, s.code_line, any_value(s.thread_name) AS thread_name,
           count(*) AS samples, count(*) FILTER (WHERE s.state = 'running') AS running
    FROM gaps g
    JOIN python_samples s ON s.pid = g.pid AND s.tid = g.tid AND s.ts_ns >= g.start_ns AND s.ts_ns < g.end_ns
    GROUP BY g.gap_id, s.code_function, s.code_file, s.code_line
),
ranked AS (
    SELECT *, sum(samples) OVER (PARTITION BY gap_id) AS gap_samples,
           row_number() OVER (PARTITION BY gap_id ORDER BY samples DESC, code_file, code_line) AS rank
    FROM hits
)
SELECT g.dur_ns * r.samples // r.gap_samples AS impact_ns, g.start_ns, g.end_ns, g.dur_ns,
       g.device_id, g.pid, g.tid, g.cause, coalesce(r.thread_name, 'thread ' || g.tid) AS thread_name,
       r.code_function AS function, r.code_file AS file, regexp_extract(r.code_file, '[^/]+$') AS file_name,
       r.code_line AS line, r.samples, r.gap_samples, r.samples * 100.0 / r.gap_samples AS share_pct,
       r.running * 100.0 / r.samples AS running_pct
FROM ranked r
JOIN gaps g USING (gap_id)
WHERE r.rank = 1 AND r.gap_samples >= $min_samples
