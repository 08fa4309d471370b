-- compare_op_shapes: the input shapes each CPU op ran with (PyTorch profiler `record_shapes`: the "Input Dims"
-- argument), with how many calls saw each, so that compare can tell a change of batch or sequence shape (work
-- changed) from a slowdown. Empty for traces without recorded shapes. No parameters.
CREATE OR REPLACE VIEW compare_op_shapes(
    -- Op name (aten::mm).
    name,
    -- Input dims as recorded, JSON text ([[8,512],[512,512]]).
    dims,
    -- Calls with these dims.
    calls
) AS
SELECT name, CAST(json_extract(payload_json, '$."Input Dims"') AS VARCHAR) AS dims, count(*) AS calls
FROM nvtx_ranges
WHERE category = 'cpu_op'
  AND payload_json LIKE '%"Input Dims"%'
GROUP BY ALL
