-- attention_phase_kernels: the distinct kernel names that belong to an attention family naming a serving phase
-- (attention_phase_patterns), with that family: the regexes run once per distinct name, not per kernel.
-- Grain: one row per kernel name. Columns: name, family, phase. No parameters.
CREATE OR REPLACE VIEW attention_phase_kernels AS
SELECT n.name, arg_min(p.family, p.priority) AS family, arg_min(p.phase, p.priority) AS phase
FROM (SELECT DISTINCT name FROM kernels WHERE name IS NOT NULL) n
JOIN attention_phase_patterns p ON regexp_matches(n.name, p.pattern)
GROUP BY n.name
