-- annotation_attrs: how the views read the text that inferscope.scope()/mark_event() write (docs/annotations.md).
-- A text is `name` or `name {"key":value,...}`: the attributes start at a ' {' after which the rest of the text
-- is one valid JSON object (the first such place, else the last, so a ' {' inside the name or inside a string
-- value does not break it); torch.cuda.nvtx texts (no NVTX domain) carry an "inferscope:" prefix, dropped here.
-- Scalar macros: annotation_body(text) strips the prefix, annotation_split(text) is the position of the space
-- before the attributes (0 = none), annotation_name(text) the user's name, annotation_attrs(text) the attributes
-- as JSON (NULL when none), annotation_requests(attrs) the request ids named (`requests` list and `request`), as
-- strings. No parameters.
CREATE OR REPLACE MACRO annotation_body(text) AS
    CASE WHEN starts_with(text, 'inferscope:') THEN substr(text, 12) ELSE text END;
CREATE OR REPLACE MACRO _annotation_split_in(body) AS
    CASE WHEN strpos(body, ' {') > 0 AND json_valid(substr(body, strpos(body, ' {') + 1))
         THEN strpos(body, ' {')
         WHEN strpos(body, ' {') > 0
              AND json_valid(substr(body, length(body) - strpos(reverse(body), '{ ') + 1))
         THEN length(body) - strpos(reverse(body), '{ ')
         ELSE 0 END;
CREATE OR REPLACE MACRO annotation_split(text) AS _annotation_split_in(annotation_body(text));
CREATE OR REPLACE MACRO annotation_attrs(text) AS
    CASE WHEN annotation_split(text) > 0
         THEN CAST(substr(annotation_body(text), annotation_split(text) + 1) AS JSON) END;
CREATE OR REPLACE MACRO annotation_name(text) AS
    CASE WHEN annotation_split(text) > 0
         THEN left(annotation_body(text), annotation_split(text) - 1)
         ELSE annotation_body(text) END;
CREATE OR REPLACE MACRO annotation_requests(attrs) AS
    list_distinct(list_concat(
        CASE WHEN json_type(json_extract(attrs, '$.requests')) = 'ARRAY'
             THEN json_extract_string(attrs, '$.requests[*]') ELSE CAST([] AS VARCHAR[]) END,
        CASE WHEN json_extract_string(attrs, '$.request') IS NOT NULL
             THEN [json_extract_string(attrs, '$.request')] ELSE CAST([] AS VARCHAR[]) END));
