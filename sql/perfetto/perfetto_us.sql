-- perfetto_us: a time in ns as the exact decimal microseconds Chrome-trace `ts`/`dur` use ("155357525.002"),
-- so no nanosecond is lost to float formatting. Parameter: ns (BIGINT).
CREATE OR REPLACE MACRO perfetto_us(ns) AS
    CASE WHEN ns < 0 THEN '-' ELSE '' END || CAST(abs(ns) // 1000 AS VARCHAR)
    || CASE WHEN abs(ns) % 1000 = 0 THEN '' ELSE '.' || lpad(CAST(abs(ns) % 1000 AS VARCHAR), 3, '0') END;
