-- annotation_marks: the instants inferscope.mark_event() wrote (first_token, request_done, ...), attributes
-- parsed back as in annotation_ranges. Grain: one row per mark. No parameters.
CREATE OR REPLACE VIEW annotation_marks(
    -- time of the mark, ns on the trace timeline.
    ts_ns,
    -- process and thread that wrote it.
    pid, tid,
    -- the name given to mark_event(), without attributes.
    name,
    -- all attributes as JSON (NULL when none).
    attrs,
    -- request ids the mark names, as strings.
    requests
) AS
SELECT m.ts_ns, m.pid, m.tid, annotation_name(m.name), annotation_attrs(m.name),
       annotation_requests(annotation_attrs(m.name))
FROM nvtx_marks m
WHERE m.domain = 'inferscope' OR (m.domain IS NULL AND starts_with(m.name, 'inferscope:'))
