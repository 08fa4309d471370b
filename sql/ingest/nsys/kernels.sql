-- kernels: CUPTI_ACTIVITY_KIND_KERNEL -> model table `kernels`.
-- Names are StringIds ids (columns ending in __sid; inferscope/ingest/strings.py turns them into dictionary
-- columns, so a long kernel name is stored once, not once per launch); pid is bits 24-47 of globalPid.
-- No parameters.
SELECT
    k."start"                          AS start_ns,
    k."end"                            AS end_ns,
    k."end" - k."start"                AS dur_ns,
    k.deviceId                         AS device_id,
    k.contextId                        AS context_id,
    k.streamId                         AS stream_id,
    k.correlationId                    AS correlation_id,
    (k.globalPid >> 24) & 16777215     AS pid,
    coalesce(d.id, s.id)               AS name__sid,
    coalesce(s.id, d.id)               AS short_name__sid,
    m.id                               AS mangled_name__sid,
    k.gridX AS grid_x, k.gridY AS grid_y, k.gridZ AS grid_z,
    k.blockX AS block_x, k.blockY AS block_y, k.blockZ AS block_z,
    k.registersPerThread               AS registers_per_thread,
    k.staticSharedMemory               AS static_smem_bytes,
    k.dynamicSharedMemory              AS dynamic_smem_bytes,
    nullif(k.graphNodeId, 0)           AS graph_node_id,
    nullif(k.graphId, 0)               AS graph_id
FROM CUPTI_ACTIVITY_KIND_KERNEL k
LEFT JOIN StringIds d ON d.id = k.demangledName
LEFT JOIN StringIds s ON s.id = k.shortName
LEFT JOIN StringIds m ON m.id = k.mangledName
