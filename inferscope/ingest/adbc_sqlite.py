"""SQLite read into Arrow through ADBC's driver, used by the nsys reader where the driver is installed.

Why not ADBC's DB-API module: importing it imports `pyarrow.dataset`, whose module set-up imports pandas, 0.2 s of
every cold conversion of an nsys export for a library the conversion never calls. The driver manager's own
objects (database, connection, statement) do the same reads without it; the statement's result is an Arrow C
stream that pyarrow imports as a RecordBatchReader, read with the GIL released.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa


class AdbcSqlite:
    """One ADBC connection to a SQLite file, for one thread at a time (as a DB-API connection would be)."""

    def __init__(self, database, connection):
        self._database = database
        self._connection = connection

    def read(self, sql: str) -> pa.Table:
        """The whole result of `sql`; raises where ADBC gives up (a column whose type changes part-way)."""
        statement = self._statement(sql)
        try:
            return self._reader(statement).read_all()
        finally:
            statement.close()

    def batches(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
        """The result of `sql` about `rows` rows at a time."""
        statement = self._statement(sql, {"adbc.sqlite.query.batch_rows": str(rows)})
        reader = None
        try:
            reader = self._reader(statement)
            yield from reader
        finally:
            if reader is not None:  # the stream before the statement it reads from, also when left part-way
                reader.close()
            statement.close()

    def close(self) -> None:
        self._connection.close()
        self._database.close()

    def _statement(self, sql: str, options: dict[str, str] | None = None):
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._connection)
        try:
            if options:
                statement.set_options(**options)
            statement.set_sql_query(sql)
        except BaseException:
            statement.close()
            raise
        return statement

    @staticmethod
    def _reader(statement) -> pa.RecordBatchReader:
        stream, _ = statement.execute_query()
        return pa.RecordBatchReader._import_from_c(stream.address)


def connect(uri: str) -> AdbcSqlite | None:
    """A connection to the SQLite file at `uri`, or None where the ADBC driver is not installed or cannot open it
    (sqlite3, always there, then reads everything)."""
    try:
        import adbc_driver_manager
        import adbc_driver_sqlite
    except ImportError:
        return None
    try:
        database = adbc_driver_sqlite.connect(uri)
    except Exception:
        return None
    try:
        return AdbcSqlite(database, adbc_driver_manager.AdbcConnection(database))
    except Exception:
        database.close()
        return None
