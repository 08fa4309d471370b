-- first_use_loads: GPU idle gaps filled by the launch call of the kernel that ended them. The call began before
-- or inside the gap and lasted, within the gap, at least half of it and at least 1 ms: with an empty queue a launch
-- call takes microseconds, so this is the driver loading the kernel's module on first use (CUDA lazy loading),
-- whether or not the trace records a module-load call of its own. One test, read by the idle ledger (cause load)
-- and by warmup_events (kind first_use), so that the two never disagree about which gaps were start-up loads.
-- Grain: one row per such gap of gpu_idle_gaps. Columns: gap_id, device_id, pid, tid (the launching process and
-- thread; pid may be NULL), api_name (the launch call), start_ns (the later of the call's start and the gap's
-- start), end_ns (the call's end), dur_ns (end_ns - start_ns). No parameters.
CREATE OR REPLACE VIEW first_use_loads AS
SELECT g.gap_id, g.device_id, g.pid, g.tid, g.next_api_name AS api_name,
       greatest(g.next_api_start_ns, g.start_ns) AS start_ns, g.next_api_end_ns AS end_ns,
       g.next_api_end_ns - greatest(g.next_api_start_ns, g.start_ns) AS dur_ns
FROM gpu_idle_gaps g
WHERE g.next_op_kind = 'kernel'
  AND g.next_api_end_ns - greatest(g.next_api_start_ns, g.start_ns) >= greatest(g.dur_ns / 2, 1000000)
