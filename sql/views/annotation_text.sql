-- annotation_text: how the views read the text that inferscope.scope()/mark_event() write (docs/annotations.md).
-- A text is `name` or `name {"key":value,...}`: the name ends at the first ' {' when the rest is a valid JSON
-- object; torch.cuda.nvtx texts (no NVTX domain) carry an "inferscope:" prefix, which is dropped.
-- Scalar macros: annotation_body(text) strips the prefix, annotation_name(text) is the user's name,
-- annotation_attrs(text) the attributes as JSON (NULL when there are none). No parameters.
CREATE OR REPLACE MACRO annotation_body(text) AS
    CASE WHEN starts_with(text, 'inferscope:') THEN substr(text, 12) ELSE text END;
CREATE OR REPLACE MACRO annotation_attrs(text) AS
    CASE WHEN strpos(annotation_body(text), ' {') > 0
              AND json_valid(substr(annotation_body(text), strpos(annotation_body(text), ' {') + 1))
         THEN CAST(substr(annotation_body(text), strpos(annotation_body(text), ' {') + 1) AS JSON) END;
CREATE OR REPLACE MACRO annotation_name(text) AS
    CASE WHEN annotation_attrs(text) IS NOT NULL
         THEN left(annotation_body(text), strpos(annotation_body(text), ' {') - 1)
         ELSE annotation_body(text) END;
-- The request ids an annotation names: its `requests` list and its `request` value, as strings.
CREATE OR REPLACE MACRO annotation_requests(attrs) AS
    list_distinct(list_concat(
        CASE WHEN json_type(json_extract(attrs, '$.requests')) = 'ARRAY' THEN json_extract_string(attrs, '$.requests[*]')
             ELSE CAST([] AS VARCHAR[]) END,
        CASE WHEN json_extract_string(attrs, '$.request') IS NOT NULL THEN [json_extract_string(attrs, '$.request')] ELSE CAST([] AS VARCHAR[]) END));
