"""DuckDB over the trace model.

Model tables are views over the cached Parquet files (or registered Arrow tables when the cache is bypassed).
The derived views and macros in sql/views/*.sql are created lazily: binding all of them costs most of a second,
more than a warm query, and most commands use a handful. Each file is scanned once for the objects it defines
and the names it mentions; before a statement runs, the objects it mentions (and theirs, transitively) are
created. Adding a view file therefore needs no registry and no ordering.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from . import model
from .errors import QueryError
from .resources import sql_dir

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_DEFINES = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:VIEW|MACRO|TABLE)\s+"
                      r"(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A statement that lists the catalog should see every view and macro, created or not.
_CATALOG_WORDS = frozenset({"show", "describe", "information_schema", "duckdb_views", "duckdb_tables",
                            "duckdb_functions", "duckdb_columns", "pragma", "show_tables", "show_tables_expanded"})


@dataclass
class _SqlFile:
    path: Path
    text: str
    defines: frozenset[str]
    mentions: frozenset[str]
    created: bool = False


def _scan(path: Path) -> _SqlFile:
    text = path.read_text(encoding="utf-8")
    code = _COMMENT.sub(" ", text)
    defines = frozenset(n.lower() for n in _DEFINES.findall(code))
    mentions = frozenset(w.lower() for w in _WORD.findall(code)) - defines
    return _SqlFile(path, text, defines, mentions)


class LazyConnection:
    """The DuckDB connection, creating the SQL-file objects a statement mentions before running it; every other
    attribute is the connection's own."""

    def __init__(self, engine: "Engine"):
        self._engine = engine
        self._con = engine.raw

    def execute(self, sql: str, *args, **kwargs):
        self._engine.prepare(sql)
        return self._con.execute(sql, *args, **kwargs)

    def sql(self, sql: str, *args, **kwargs):
        self._engine.prepare(sql)
        return self._con.sql(sql, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


class Engine:
    def __init__(self, parquet_dir: Path | None = None, tables: dict[str, pa.Table] | None = None,
                 view_dirs: tuple[str, ...] = ("views",)):
        self.raw = duckdb.connect()
        self._files: dict[str, _SqlFile] = {}  # object name -> defining file (the latest registered wins)
        # DuckDB draws a progress bar on stdout for slow queries, which would corrupt JSON printed to stdout.
        self.raw.execute("SET enable_progress_bar = false")
        for name in model.TABLE_BY_NAME:
            if parquet_dir is not None:
                file = str(parquet_dir / f"{name}.parquet").replace("'", "''")
                self.raw.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{file}')")
            else:
                table = (tables or {}).get(name)
                self.raw.register(f"_arrow_{name}", model.conform(name, table) if table is not None else model.empty_table(name))
                self.raw.execute(f"CREATE VIEW {name} AS SELECT * FROM _arrow_{name}")
        self.con = LazyConnection(self)
        for d in view_dirs:
            self.load_sql_dir(sql_dir() / d)

    def load_sql_dir(self, directory: Path) -> None:
        """Make the objects of directory/*.sql available; a file redefining an object already created replaces
        it at once, so that later directories can override earlier ones."""
        for path in sorted(directory.glob("*.sql")):
            f = _scan(path)
            if not f.defines:
                raise RuntimeError(f"{path}: defines no view, macro or table")
            replaces = any(self._files[n].created for n in f.defines if n in self._files)
            for name in f.defines:
                self._files[name] = f
            if replaces:  # views created earlier may read it: replace it now, after what it needs
                self.prepare(" ".join(f.mentions))
                self.raw.execute(f.text)
                f.created = True

    def has(self, name: str) -> bool:
        """Whether `name` is a table, view or macro here, created or not yet."""
        if name.lower() in self._files:
            return True
        found = self.raw.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? UNION ALL "
                                 "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name, name]).fetchall()
        return any(n for (n,) in found)

    def prepare(self, sql: str) -> None:
        """Create the not-yet-created objects that `sql` mentions, and what they mention in turn.

        Mentions are words, so they over-approximate dependencies (a column may share a view's name) and may even
        form false cycles; the order therefore comes from trying: a file whose dependencies do not exist yet is
        retried after the others of the batch."""
        todo = [w.lower() for w in _WORD.findall(sql)]
        if _CATALOG_WORDS.intersection(w.lower() for w in _WORD.findall(_COMMENT.sub(" ", sql))):
            todo = list(self._files)
        batch: dict[Path, _SqlFile] = {}
        while todo:
            f = self._files.get(todo.pop())
            if f is not None and not f.created and f.path not in batch:
                batch[f.path] = f
                todo.extend(f.mentions)
        pending = sorted(batch.values(), key=lambda f: f.path)
        while pending:
            failed: list[tuple[_SqlFile, Exception]] = []
            for f in pending:
                try:
                    self.raw.execute(f.text)
                    f.created = True
                except duckdb.CatalogException as exc:
                    failed.append((f, exc))
                except duckdb.Error as exc:
                    raise RuntimeError(f"{f.path}: {exc}") from exc
            if len(failed) == len(pending):
                f, exc = failed[0]
                raise RuntimeError(f"{f.path}: {exc}")
            pending = [f for f, _ in failed]

    def query(self, sql: str, params: dict | list | None = None) -> pa.Table:
        try:
            self.prepare(sql)
            return self.raw.execute(sql, params).to_arrow_table() if params else self.raw.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise QueryError(f"SQL error: {first}") from exc

    def close(self) -> None:
        self.raw.close()
