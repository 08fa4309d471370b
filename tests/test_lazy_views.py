"""Which sql/views objects a statement creates before it runs (engine/core.py `prepare`): what it mentions, and
everything only for a statement that reads the catalog. A catalog word inside a string literal or a comment (a
rule's advice saying what a trace would 'show') reads no catalog; creating all ~150 views for it cost a warm
analysis of a 3k-kernel trace about 0.3 s of planning."""

from __future__ import annotations

import inferscope

from .conftest import SAMPLES

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def test_a_catalog_word_in_a_string_or_comment_creates_only_what_is_mentioned(cache_dir):
    from inferscope.resources import sql_dir

    with inferscope.open(SAMPLE, cache_dir=cache_dir) as t:

        def created() -> set[str]:
            return {
                n for (n,) in t.engine.raw.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
            }

        rows = t.engine.rows(
            "SELECT 'traces that show it; describe, pragma' AS advice, count(*) AS n -- show tables\n"
            "FROM gpu_busy /* information_schema */"
        )
        assert rows.rows[0][0] == "traces that show it; describe, pragma" and rows.rows[0][1] > 0
        assert {"gpu_busy", "gpu_ops"} <= created()
        assert "hta_queue_length" not in created() and "gpu_idle_gaps" not in created()

        t.engine.rows("SHOW TABLES")  # a real catalog statement still sees every view a file defines
        view_files = {p.stem for p in (sql_dir() / "views").glob("*.sql") if "CREATE OR REPLACE VIEW" in p.read_text()}
        assert view_files and view_files <= created()
