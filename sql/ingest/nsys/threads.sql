-- threads: ThreadNames -> model table `threads`. No parameters.
SELECT DISTINCT
    (t.globalTid >> 24) & 16777215 AS pid,
    t.globalTid & 16777215 AS tid,
    s.value AS name,
    t.priority AS priority
FROM ThreadNames t
LEFT JOIN StringIds s ON s.id = t.nameId
