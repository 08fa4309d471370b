-- rule: bundle_incomplete
-- title: Recording incomplete
-- severity: high
-- group_by: kind
-- impact: none (0): the finding says what the trace is missing, not what the workload lost; it is high so that a
--   reader sees it before trusting the other findings.
-- summary: Bundle warning: {warning}{more}.
-- recommendation: Record again. If nsys keeps losing the report, check the --nsys-args given to `inferscope record`,
--   run `nsys profile -t osrt -s none true` on its own, or record with --no-nsys; keep CPU sampling off (nsys
--   2022.4 can hang at the end of a profile with it).
-- why: An `inferscope record` bundle whose recorder did not finish, or whose nsys report was lost, holds less than
--   the workload did: missing GPU work reads as "no GPU work" and samples may end early. The recorder writes the
--   reason into manifest.json (status, incomplete_reason); the bundle reader passes it on as bundle.warning.* in
--   trace_meta, which this rule reads.
WITH w AS (
    SELECT key, value FROM trace_meta WHERE key LIKE 'bundle.warning.%'
)
SELECT 0 AS impact_ns, 'bundle' AS kind, value AS warning, key,
       CASE WHEN count(*) OVER () > 1
            THEN ' (and ' || (count(*) OVER () - 1) || ' more warning' ||
                 CASE WHEN count(*) OVER () > 2 THEN 's' ELSE '' END || ' in the evidence)'
            ELSE '' END AS more
FROM w
ORDER BY key = 'bundle.warning.incomplete' DESC, key
