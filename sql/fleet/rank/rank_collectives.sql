-- rank_collectives: one rank's communication kernels (NCCL/RCCL) in the order they started, on the fleet clock.
-- Grain: one row per communication kernel of the rank. The reduce matches the same collective across ranks by
-- seq (the n-th communication kernel of every rank), which holds while every rank issues the same collectives in
-- the same order, as data-parallel jobs do; kind is checked to agree.
-- * seq: 0-based order of start; kind: the collective from the kernel name (AllReduce, SendRecv, AllGather, ...),
--   else the kernel's short name; start_ns is the rank's arrival (the kernel starts, then waits inside for its
--   peers); end_ns when the transfer finished on this rank.
-- Columns: rank, seq, kind, kernel, device_id, stream_id, start_ns, end_ns, dur_ns.
-- Parameters: $rank (the rank number written into the rows), $anchor_ns (added to every time: the rank's clock
-- anchor).
SELECT CAST($rank AS BIGINT) AS rank,
       row_number() OVER (ORDER BY start_ns, end_ns, stream_id) - 1 AS seq,
       coalesce(nullif(regexp_extract(name, '(?i)(?:nccl|rccl)(?:Dev)?Kernel_([A-Za-z]+)', 1), ''), short_name)
           AS kind,
       short_name AS kernel, device_id, stream_id,
       start_ns + $anchor_ns AS start_ns,
       end_ns + $anchor_ns AS end_ns,
       dur_ns
FROM kernels
WHERE regexp_matches(name, '(?i)nccl|rccl')
ORDER BY seq
