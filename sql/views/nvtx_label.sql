-- nvtx_label(name): an annotation name without per-call decorations, so that ranges of the same operation group
-- together: PyTorch's NVTX ranges carry ", seq = N", ", op_id = N", ", sizes = [...]" suffixes
-- ("aten::mul, seq = 12, op_id = 345" -> "aten::mul"). A scalar macro. No parameters.
CREATE OR REPLACE MACRO nvtx_label(name) AS
    regexp_replace(name, ',\s*(seq|op_id|sizes|input_op_ids|stream|input_dims)\s*=.*$', '');
