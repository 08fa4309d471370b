-- kineto timeline_zero: the instant (abs_ns, see events.sql) that becomes 0 on the trace timeline: the earliest
-- profiler window start ("Trace" span, "PyTorch Profiler (0)") of all files, or the earliest event when no file
-- has one. With several ranks this puts every rank on one clock, as their absolute times already are.
-- Input: `_kineto_events_abs`. Output: one row, zero_ns. No parameters.
SELECT coalesce(min(abs_ns) FILTER (WHERE kind = 'trace'),
                min(abs_ns) FILTER (WHERE kind IS NOT NULL AND kind NOT IN ('invalid', 'meta'))) AS zero_ns
FROM _kineto_events_abs
