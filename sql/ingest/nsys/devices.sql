-- devices: TARGET_INFO_GPU -> model table `devices`. `id` is what activity rows call deviceId; cuDevice is the
-- CUDA ordinal (they differ, e.g. id 0 <-> cuDevice 3). clockRate is recorded in Hz (1.41e9 on an A100). No parameters.
SELECT DISTINCT
    g.id AS device_id,
    g.cuDevice AS cuda_ordinal,
    g.name AS name,
    g.smCount AS sm_count,
    g.totalMemory AS total_memory_bytes,
    g.memoryBandwidth AS memory_bandwidth_bps,
    g.clockRate AS clock_rate_hz,
    g.computeMajor AS compute_major,
    g.computeMinor AS compute_minor,
    g.busLocation AS bus_location,
    g.uuid AS uuid
FROM TARGET_INFO_GPU g
