-- processes: PROCESSES -> model table `processes` (nsys 2022.4 lists every process it saw). No parameters.
SELECT DISTINCT coalesce(p.pid, (p.globalPid >> 24) & 16777215) AS pid, p.name AS name
FROM PROCESSES p
