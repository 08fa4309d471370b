"""DuckDB over the trace model.

Model tables are views over the cached Parquet files (or registered Arrow tables when the cache is bypassed).
The derived views and macros in sql/views/*.sql are created lazily: binding all of them costs most of a second,
more than a warm query, and most commands use a handful. Each file is scanned once for the objects it defines
and the names it mentions; before a statement runs, the objects it mentions (and theirs, transitively) are
created. Adding a view file therefore needs no registry and no ordering.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import duckdb

from .. import duckdb_conn, model
from ..errors import OutOfMemoryError, QueryError
from ..resources import sql_dir

if TYPE_CHECKING:
    import pyarrow as pa

# The attached in-memory database that holds materialised views (Engine.create_table).
DERIVED = "derived"
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_DEFINES = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:VIEW|MACRO|TABLE)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.I,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Comments and string literals, in one pass so that a quote inside a comment (or `--` inside a string) is read as
# the SQL parser reads it: a catalog word in a message ('... traces that show ...') lists nothing.
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)
# A statement that lists the catalog should see every view and macro, created or not.
_CATALOG_WORDS = frozenset(
    {
        "show",
        "describe",
        "information_schema",
        "duckdb_views",
        "duckdb_tables",
        "duckdb_functions",
        "duckdb_columns",
        "pragma",
        "show_tables",
        "show_tables_expanded",
    }
)


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
    def __init__(
        self,
        parquet_dir: Path | None = None,
        tables: "dict[str, pa.Table] | None" = None,
        view_dirs: tuple[str, ...] = ("views",),
    ):
        # Spills go under the cache root (the entry's parent), where a killed run's leftovers are swept.
        self.raw = duckdb_conn.connect(parquet_dir.parent if parquet_dir is not None else None)
        self._files: dict[str, _SqlFile] = {}  # object name -> defining file (the latest registered wins)
        self._registered: dict[str, object] = {}  # Arrow data registered on `raw`, by alias (a worker registers it too)
        self._lock = threading.RLock()  # creating views from several connections (prepare's `con`)
        self._sources: dict[str, str] = {}  # model table -> what its view reads (see attach)
        for name in model.TABLE_BY_NAME:
            if parquet_dir is not None:
                file = str(parquet_dir / f"{name}.parquet").replace("'", "''")
                self._sources[name] = f"read_parquet('{file}')"
                self.raw.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{file}')")
            else:
                table = (tables or {}).get(name)
                rows = model.conform(name, table) if table is not None else model.empty_table(name)
                self._register(f"_arrow_{name}", duckdb_conn.registrable(rows))
                self._sources[name] = f"_arrow_{name}"
                self.raw.execute(f"CREATE VIEW {name} AS SELECT * FROM _arrow_{name}")
        # Materialised views live in an attached in-memory database that every connection of this database sees, so
        # that worker connections (see `worker`) read the same tables (create_table).
        self.raw.execute(f"ATTACH ':memory:' AS {DERIVED}")
        self._attached: dict[str, tuple[str, bool]] = {}  # model table -> (registered alias, appended)
        self._window = None  # engine.window.Window: the part of the trace every query sees (None: all of it)
        self._deferred = None  # set up before the next statement (see defer)
        self.con = LazyConnection(self)
        for d in view_dirs:
            self.load_sql_dir(sql_dir() / d)

    def attach(self, name: str, table: "pa.Table", append: bool = False) -> None:
        """Serve model table `name` from `table` from now on (`append`: the trace's own rows, then these), for data
        that arrives beside the trace and is not part of its cached conversion (a load generator's request file).
        Attaching again replaces what was attached before."""
        alias = f"_attached_{name}"
        self._register(alias, duckdb_conn.registrable(model.conform(name, table)))
        self._attached[name] = (alias, append)
        self._define(name)

    def _register(self, alias: str, data) -> None:
        self.raw.register(alias, data)
        self._registered[alias] = data

    def create_table(self, name: str, select: str, prepare: bool = True, con=None) -> None:
        """Materialise `select` as `name`, in place of the view of that name for every later query of this engine,
        its worker connections' included. The rows go to the attached database DERIVED, which every connection
        sees, under a temporary view of the name (`show_table`): only a temporary object shadows a view of the
        catalog (a view binds the names it reads in its own catalog first), and temporary objects belong to one
        connection, so a temporary table would leave a worker reading the view. `prepare`: create the views
        `select` names first (off for a select that names none, such as a read of stored files). `con`: a worker
        to make it on; the view is then the caller's to show on each connection."""
        if prepare:
            self.prepare(select, con)
        (self.raw if con is None else con).execute(f'CREATE OR REPLACE TABLE {DERIVED}."{name}" AS {select}')
        if con is None:
            self.show_table(name, self.raw)

    def show_table(self, name: str, con) -> None:
        """The temporary view `name` on `con` over the table `create_table` made."""
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM {DERIVED}."{name}"')

    def created_tables(self, con=None) -> set[str]:
        """Names of the tables `create_table` made that still stand (asked on `con`, a worker, if given)."""
        found = (
            (self.raw if con is None else con)
            .execute(f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{DERIVED}'")
            .fetchall()
        )
        return {n for (n,) in found}

    def worker(self) -> "duckdb.DuckDBPyConnection | None":
        """A second connection to this engine's database that reads what `raw` reads: the same catalog and
        materialised tables, plus copies of `raw`'s temporary views, registered Arrow data and variables. Queries
        on it run beside queries on `raw` (DuckDB plans a statement on the calling thread; dozens of small rule
        queries are mostly planning). None when `raw` holds a temporary table, which no other connection can read.
        Views are not created on it: run `prepare` for its statements first. Close it when done."""
        self._run_deferred()
        if self.raw.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0]:
            return None
        cur = self.raw.cursor()
        try:
            cur.execute("SET enable_progress_bar = false")
            for alias, data in self._registered.items():
                cur.register(alias, data)
            registered = {a.lower() for a in self._registered}
            views = [
                sql
                for name, sql in self.raw.execute(
                    "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal"
                ).fetchall()
                if name.lower() not in registered
            ]
            while views:  # a temporary view may read another: created once what it reads exists
                failed = []
                for sql in views:
                    try:
                        cur.execute(sql)
                    except duckdb.CatalogException:
                        failed.append(sql)
                if len(failed) == len(views):
                    cur.execute(failed[0])  # raises what is missing
                views = failed
            for name, kind in self.raw.execute("SELECT name, type FROM duckdb_variables()").fetchall():
                value = self.raw.execute(f"SELECT getvariable('{name}')").fetchall()[0][0]
                cur.execute(f"SET VARIABLE {name} = CAST($v AS {kind})", {"v": value})
        except BaseException:
            cur.close()
            raise
        return cur

    def defer(self, setup) -> None:
        """Run `setup()` before the next statement through `con`, `query`, `rows` or `row_stream`, or before more
        SQL files are registered, instead of now. A stored analysis is served without its derived tables; they are loaded only
        if something queries the trace afterwards (a report's charts, the user's own SQL), and then under the
        same definitions, patterns and window that the analysis had. A new window cancels it."""
        self._deferred = setup

    def _run_deferred(self) -> None:
        if self._deferred is not None:
            setup, self._deferred = self._deferred, None
            setup()

    def set_window(self, window) -> None:
        """Show every query only the part of the trace inside `window` (an `engine.window.Window`; None: the whole
        trace again): each model table with a time keeps the rows that start inside it. Temporary tables an
        analysis stored (they shadow views) are dropped, so nothing computed over another window is read."""
        self._window = window
        self._deferred = None  # it was set up for the previous window
        for name in model.TABLE_BY_NAME:
            self._define(name)
        self.drop_temporary()

    def drop_temporary(self, names=None) -> None:
        """Drop the temporary tables and views (stored derived tables, which shadow the views of the same names)
        named in `names`, or all of them; on the raw connection, so that nothing is created to be dropped. A set-up
        still deferred (`defer`) is cancelled: it would create them again, and a table created next under one of
        their names would then meet its view ("already exists")."""
        self._deferred = None
        wanted = None if names is None else {n.lower() for n in names}
        found = self.raw.execute(
            "SELECT table_name, 'TABLE', 'temp' FROM duckdb_tables() WHERE temporary UNION ALL "
            "SELECT view_name, 'VIEW', 'temp' FROM duckdb_views() WHERE temporary AND NOT internal UNION ALL "
            f"SELECT table_name, 'TABLE', '{DERIVED}' FROM duckdb_tables() WHERE database_name = '{DERIVED}'"
        ).fetchall()
        registered = {a.lower() for a in self._registered}
        for name, kind, where in found:
            if name.lower() in registered:  # Arrow tables registered as the model (temporary views too)
                continue
            if wanted is None or name.lower() in wanted:
                self.raw.execute(f'DROP {kind} IF EXISTS {where}."{name}"')

    @property
    def window(self):
        """The window queries see (`engine.window.Window`), or None for the whole trace."""
        return self._window

    def _define(self, name: str) -> None:
        """(Re)create model table `name`'s view: its source, attached rows, and the window's filter."""
        from .window import where

        body = f"SELECT * FROM {self._sources[name]}"
        if name in self._attached:
            alias, append = self._attached[name]
            body = f"{body} UNION ALL BY NAME SELECT * FROM {alias}" if append else f"SELECT * FROM {alias}"
        cond = where(self._window, {c.name for c in model.TABLE_BY_NAME[name].columns}) if self._window else None
        if cond:
            body = f"SELECT * FROM ({body}) WHERE {cond}"
        self.raw.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")

    def load_sql_dir(self, directory: Path) -> None:
        """Make the objects of directory/*.sql available; a file redefining an object already created replaces
        it at once, so that later directories can override earlier ones."""
        self._run_deferred()  # under the files it was deferred with (they are part of the derived tables' key)
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
        found = self.raw.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = ? UNION ALL "
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
            [name, name],
        ).fetchall()
        return any(n for (n,) in found)

    def object_names(self) -> set[str]:
        """Lower-case names of every table, view and macro here, created or not yet (what a user rule may read;
        see analyze/rule_sandbox.py)."""
        found = self.raw.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION "
            "SELECT table_name FROM duckdb_tables() UNION "
            "SELECT function_name FROM duckdb_functions() WHERE function_type IN ('macro', 'table_macro') "
            "AND NOT internal"
        ).fetchall()
        return {n.lower() for (n,) in found} | set(self._files)

    def mentioned(self, sql: str, among) -> set[str]:
        """The names of `among` that `sql` reads through the SQL-file objects it names, transitively. Names are
        words, so this over-approximates, as `prepare` does."""
        words, _ = self._reach(w.lower() for w in _WORD.findall(sql))
        return words & {n.lower() for n in among}

    def defining_files(self, names) -> list[_SqlFile]:
        """The SQL files that define `names` and every object those read, transitively (words, as `mentioned`):
        what a result computed from `names` depends on, and nothing else loaded beside it."""
        _, files = self._reach(n.lower() for n in names)
        return sorted(files, key=lambda f: str(f.path))

    def _reach(self, words) -> "tuple[set[str], list[_SqlFile]]":
        """Every word reached from `words` through the SQL files' mentions, and the files passed through (each
        once)."""
        seen: set[str] = set()
        files: dict[Path, _SqlFile] = {}
        todo = list(words)
        while todo:
            word = todo.pop()
            seen.add(word)
            f = self._files.get(word)
            if f is not None and f.path not in files:
                files[f.path] = f
                todo.extend(f.mentions)
        return seen, list(files.values())

    def prepare(self, sql: str, con=None) -> None:
        """Create the not-yet-created objects that `sql` mentions, and what they mention in turn.

        Mentions are words, so they over-approximate dependencies (a column may share a view's name) and may even
        form false cycles; the order therefore comes from trying: a file whose dependencies do not exist yet is
        retried after the others of the batch.

        `con`: a worker connection (`worker`) to create them on, for a statement about to run there. A view binds
        when it is created, through the temporary views of the connection creating it: made once the tables it
        reads stand, it binds over them, not over the whole stack of views down to the model (about 1 s of
        planning on a small trace). The catalog is shared, so every connection sees what any of them created."""
        with self._lock:
            self._prepare(sql, self.raw if con is None else con)

    def _prepare(self, sql: str, con) -> None:
        if con is self.raw:
            self._run_deferred()
        todo = [w.lower() for w in _WORD.findall(sql)]
        if _CATALOG_WORDS.intersection(w.lower() for w in _WORD.findall(_NOT_CODE.sub(" ", sql))):
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
                    con.execute(f.text)
                    f.created = True
                except duckdb.CatalogException as exc:
                    failed.append((f, exc))
                except duckdb.OutOfMemoryException as exc:
                    raise duckdb_conn.out_of_memory(exc, f.path.name) from exc
                except duckdb.Error as exc:
                    raise RuntimeError(f"{f.path}: {exc}") from exc
            if len(failed) == len(pending):
                f, exc = failed[0]
                raise RuntimeError(f"{f.path}: {exc}")
            pending = [f for f, _ in failed]

    def query(self, sql: str, params: dict | list | None = None) -> "pa.Table":
        try:
            self.prepare(sql)
            try:
                return self.raw.sql(sql, params=params).to_arrow_table()
            except duckdb.Error as exc:
                # DuckDB 2 refuses con.sql() while a result of an earlier con.execute() on this (shared) connection
                # is not read to its end; a new execute() ends that result, and the query then runs as asked.
                if "unfinished result" not in str(exc):
                    raise
                self.raw.execute("SELECT 1").fetchall()
                return self.raw.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise _query_error(exc) from exc

    def rows(self, sql: str, params: dict | list | None = None) -> "Rows":
        """The result as Python rows, for small results printed or serialised as they are: no pyarrow needed."""
        try:
            self.prepare(sql)
            cur = self.raw.execute(sql, params)
            names = [d[0] for d in cur.description]
            types = [str(d[1]) for d in cur.description]
            return Rows(names, types, cur.fetchall())
        except duckdb.Error as exc:
            raise _query_error(exc) from exc

    def row_stream(self, sql: str, size: int = 1000) -> "RowStream":
        """The result as Python rows fetched `size` at a time, for results written as they come (CSV, JSON):
        neither the whole result as Python objects nor DuckDB's materialised copy of it is ever held (with long
        unique names, each was one more copy of every name). Read it to its end before the next query."""
        try:
            self.prepare(sql)
            cur = self.raw.execute(sql)
            names = [d[0] for d in cur.description]
            types = [str(d[1]) for d in cur.description]
        except duckdb.Error as exc:
            raise _query_error(exc) from exc

        def chunks():
            try:
                while rows := cur.fetchmany(size):
                    yield rows
            except duckdb.Error as exc:
                raise _query_error(exc) from exc

        return RowStream(names, types, chunks())

    def close(self) -> None:
        self.raw.close()


def _query_error(exc: Exception) -> QueryError | OutOfMemoryError:
    if isinstance(exc, duckdb.OutOfMemoryException):
        return duckdb_conn.out_of_memory(exc, "a query")
    return QueryError(f"SQL error: {str(exc).strip().splitlines()[0]}")


# DuckDB type names -> Arrow type aliases, for turning Python rows back into Arrow with the types DuckDB's own
# Arrow export gives (a type not listed is inferred from the values).
_ARROW_ALIAS = {
    "BIGINT": "int64",
    "INTEGER": "int32",
    "SMALLINT": "int16",
    "TINYINT": "int8",
    "UBIGINT": "uint64",
    "UINTEGER": "uint32",
    "USMALLINT": "uint16",
    "UTINYINT": "uint8",
    "DOUBLE": "double",
    "FLOAT": "float",
    "VARCHAR": "string",
    "BOOLEAN": "bool",
}


@dataclass
class RowStream:
    """A query result as chunks of Python rows (`Engine.row_stream`), read once."""

    column_names: list[str]
    types: list[str]
    chunks: Iterator[list[tuple]]

    def head(self, limit: int) -> "Rows":
        """The first `limit` rows (0: all), the others counted and dropped as they are fetched."""
        rows: list[tuple] = []
        total = 0
        for chunk in self.chunks:
            total += len(chunk)
            if limit <= 0 or len(rows) < limit:
                rows.extend(chunk if limit <= 0 else chunk[: limit - len(rows)])
        return Rows(self.column_names, self.types, rows, total)


@dataclass
class Rows:
    """A query result as Python rows with DuckDB's column names and type names.

    What the CLI prints (summary reports are a few hundred rows at most), kept free of pyarrow: on the warm
    `inferscope stats` path pyarrow's import was ~70 MB of the resident memory and ~0.15 s of the run."""

    column_names: list[str]
    types: list[str]
    rows: list[tuple]
    # rows the result had, where `rows` holds only its first ones (`RowStream.head`)
    total: int | None = None

    @property
    def num_rows(self) -> int:
        return len(self.rows) if self.total is None else self.total

    def numeric(self, column: int) -> bool:
        t = self.types[column]
        return (t in _ARROW_ALIAS and _ARROW_ALIAS[t] not in ("string", "bool")) or t.startswith(("DECIMAL", "HUGEINT"))

    def to_pylist(self) -> list[dict]:
        return [dict(zip(self.column_names, r)) for r in self.rows]

    def to_arrow(self) -> "pa.Table":
        import pyarrow as pa

        columns = list(zip(*self.rows)) if self.rows else [()] * len(self.column_names)
        arrays = []
        for values, t in zip(columns, self.types):
            alias = _ARROW_ALIAS.get(t)
            arrays.append(pa.array(list(values), type=pa.type_for_alias(alias) if alias else None))
        return pa.Table.from_arrays(arrays, names=self.column_names)
