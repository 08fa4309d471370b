-- kineto nvtx_marks: instant events (ph i/I) of a process, other than [memory] records -> model table
-- `nvtx_marks`. Global instants with a non-numeric pid ("Iteration Start", "Record Window End") are profiler
-- bookkeeping and are left out. Input: `_kineto_events`. No parameters.
SELECT start_ns AS ts_ns, pid, tid, name, CAST(NULL AS VARCHAR) AS domain,
       CAST(NULL AS BIGINT) AS payload_int, CAST(NULL AS DOUBLE) AS payload_double,
       CAST(args AS VARCHAR) AS payload_json
FROM _kineto_events
WHERE kind = 'instant' AND pid IS NOT NULL
