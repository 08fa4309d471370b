-- annotation_ranges: the ranges inferscope.scope() wrote, whichever way they were recorded (NVTX domain
-- "inferscope" captured by nsys, torch.cuda.nvtx texts prefixed "inferscope:", or the recorder's annotation
-- files), with the attributes parsed back and the well-known ones typed. GPU work is attributed to a range when
-- the API call that launched it started inside the range on the same thread (nested ranges both count it).
-- Grain: one row per range. No parameters.
CREATE OR REPLACE VIEW annotation_ranges(
    -- range_id in nvtx_ranges.
    range_id,
    -- process and thread that opened the range.
    pid, tid,
    -- range interval, ns on the trace timeline.
    start_ns, end_ns, dur_ns,
    -- nesting depth on the thread and the enclosing range (any NVTX range, not only annotations).
    depth, parent_id,
    -- the name given to scope(), without attributes.
    name,
    -- all attributes as JSON (NULL when none).
    attrs,
    -- request ids the range names (`request` and `requests` attributes), as strings.
    requests,
    -- `batch` attribute (string), `batch_size` and `tokens` attributes (integers when they are numbers).
    batch, batch_size, tokens,
    -- kernels launched inside the range and their summed GPU duration (ns; 0 without CUDA data).
    kernels, gpu_ns
) AS
WITH ranges AS (
    SELECT r.*, annotation_attrs(r.name) AS a
    FROM nvtx_ranges r
    WHERE r.domain = 'inferscope' OR (r.domain IS NULL AND starts_with(r.name, 'inferscope:'))
),
launched AS (
    SELECT r.range_id, count(*) AS kernels, sum(l.kernel_dur_ns) AS gpu_ns
    FROM ranges r
    JOIN cuda_launches l
      ON l.api_pid = r.pid AND l.api_tid = r.tid AND l.op_kind = 'kernel'
     AND l.api_start_ns >= r.start_ns AND l.api_start_ns < r.end_ns
    GROUP BY r.range_id
)
SELECT r.range_id, r.pid, r.tid, r.start_ns, r.end_ns, r.dur_ns, r.depth, r.parent_id,
       annotation_name(r.name), r.a,
       annotation_requests(r.a),
       json_extract_string(r.a, '$.batch'),
       TRY_CAST(json_extract_string(r.a, '$.batch_size') AS BIGINT),
       TRY_CAST(json_extract_string(r.a, '$.tokens') AS BIGINT),
       coalesce(l.kernels, 0), coalesce(l.gpu_ns, 0)
FROM ranges r
LEFT JOIN launched l USING (range_id)
