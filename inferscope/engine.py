"""DuckDB over the trace model.

Model tables are views over the cached Parquet files (or registered Arrow tables when the cache is bypassed);
sql/views/*.sql then define the derived views. View files may depend on each other: they are created in name
order and any file whose dependencies do not exist yet is retried after the others, so adding a file needs no
registry.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from . import model
from .errors import QueryError
from .resources import sql_dir


class Engine:
    def __init__(self, parquet_dir: Path | None = None, tables: dict[str, pa.Table] | None = None,
                 view_dirs: tuple[str, ...] = ("views",)):
        self.con = duckdb.connect(config={"threads": 2} if False else {})
        # DuckDB draws a progress bar on stdout for slow queries, which would corrupt JSON printed to stdout.
        self.con.execute("SET enable_progress_bar = false")
        for name in model.TABLE_BY_NAME:
            if parquet_dir is not None:
                file = str(parquet_dir / f"{name}.parquet").replace("'", "''")
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{file}')")
            else:
                table = (tables or {}).get(name)
                self.con.register(f"_arrow_{name}", model.conform(name, table) if table is not None else model.empty_table(name))
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM _arrow_{name}")
        for d in view_dirs:
            self.load_sql_dir(sql_dir() / d)

    def load_sql_dir(self, directory: Path) -> None:
        pending = sorted(directory.glob("*.sql"))
        while pending:
            failed: list[tuple[Path, Exception]] = []
            for file in pending:
                try:
                    self.con.execute(file.read_text(encoding="utf-8"))
                except duckdb.CatalogException as exc:
                    failed.append((file, exc))
            if len(failed) == len(pending):
                file, exc = failed[0]
                raise RuntimeError(f"{file}: {exc}")
            pending = [f for f, _ in failed]

    def query(self, sql: str, params: dict | list | None = None) -> pa.Table:
        try:
            return self.con.execute(sql, params).to_arrow_table() if params else self.con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise QueryError(f"SQL error: {first}") from exc

    def close(self) -> None:
        self.con.close()
