"""The Arrow-native nsys exports: `--type arrow` (consecutive IPC streams in one file) and `--type parquetdir`.

Apart from the SQLite reader (`nsys_raw`) because they share none of its machinery: no SQL, no connections; both
decode only the stored columns RAW_COLUMNS needs and derive the rest as `nsys_columns` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import TraceInputError
from .nsys_columns import RAW_COLUMNS, complete, derive, stored_columns


class ArrowStreamsReader:
    """`nsys export --type arrow`: one file of consecutive Arrow IPC streams, one per table (its name in the
    schema metadata); callable like SqliteReader (name -> Arrow table).

    The file is memory-mapped and scanned message by message, which finds where each table's stream lies
    without decoding (or decompressing) any of it; a table is decoded only when the conversion asks for it, so
    a large export is converted one table at a time instead of being loaded whole. Each table is decoded from a
    map of its own, zero-copy and only the columns the model needs: the pages of the other columns are never
    touched, and the map goes away with the table."""

    def __init__(self, path: Path):
        self.path = path
        self._spans: dict[str, tuple[int, int]] = {}
        self._schemas: dict[str, pa.Schema] = {}
        try:
            with pa.memory_map(str(path), "r") as mm:
                size = mm.size()
                while mm.tell() < size:
                    start = mm.tell()
                    messages = pa.ipc.MessageReader.open_stream(mm)
                    schema = pa.ipc.read_schema(messages.read_next_message())
                    while True:
                        try:
                            messages.read_next_message()
                        except StopIteration:
                            break
                    name = ((schema.metadata or {}).get(b"table_name") or b"").decode()
                    if name in RAW_COLUMNS:
                        self._spans[name] = (start, mm.tell())
                        self._schemas[name] = schema
        except (pa.ArrowInvalid, OSError, StopIteration) as exc:
            if not self._spans:
                raise TraceInputError(f"{path}: not a readable nsys Arrow export ({exc})") from exc
            raise TraceInputError(
                f"{path}: truncated nsys Arrow export ({exc}); re-export it from the .nsys-rep"
            ) from exc
        if not self._spans:
            raise TraceInputError(f"{path}: Arrow file without Nsight Systems tables")

    def __call__(self, name: str) -> pa.Table:
        if name not in self._spans:
            return complete(name, None)
        stream = self._stream(name)
        schema = next(stream)
        return complete(name, derive(name, pa.Table.from_batches(list(stream), schema=schema)))

    def batches(self, name: str) -> Iterator[pa.Table]:
        """The table's record batches in stored order, decoded one at a time (GPU_METRICS)."""
        if name not in self._spans:
            yield complete(name, None)
            return
        stream = self._stream(name)
        next(stream)
        for batch in stream:
            yield complete(name, derive(name, pa.Table.from_batches([batch])))

    def _stream(self, name: str) -> Iterator:
        """The schema (first), then the record batches of one table, decoded from a map of its own with only the
        columns the model needs (NVTX_EVENTS has two dozen)."""
        start, end = self._spans[name]
        wanted = stored_columns(name)
        fields = [i for i, f in enumerate(self._schemas[name]) if f.name in wanted]
        try:
            with pa.memory_map(str(self.path), "r") as mm:
                mm.seek(start)
                stream = pa.ipc.open_stream(
                    mm.read_buffer(end - start), options=pa.ipc.IpcReadOptions(included_fields=fields)
                )
                yield stream.schema
                yield from stream
        except (pa.ArrowInvalid, OSError) as exc:
            raise TraceInputError(f"{self.path}: corrupt table {name} in the nsys Arrow export ({exc})") from exc

    def close(self) -> None:
        self._spans.clear()


def read_parquet_table(path: Path, name: str) -> pa.Table:
    """One table of an `nsys export --type parquetdir` directory (one `<TABLE>.parquet` per table)."""
    file = path / f"{name}.parquet"
    if not file.exists():
        return complete(name, None)
    wanted = stored_columns(name)
    try:
        have = pq.read_schema(file).names
        return complete(name, derive(name, pq.read_table(file, columns=[c for c in have if c in wanted])))
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceInputError(f"{file}: unreadable Parquet file ({exc}); re-export the report") from exc


def parquet_table_batches(path: Path, name: str, rows: int = 1 << 18) -> Iterator[pa.Table]:
    """One table of a parquetdir export, about `rows` rows at a time in stored order (GPU_METRICS)."""
    file = path / f"{name}.parquet"
    if not file.exists():
        yield complete(name, None)
        return
    wanted = stored_columns(name)
    try:
        parquet = pq.ParquetFile(file)
        columns = [c for c in parquet.schema_arrow.names if c in wanted]
        for batch in parquet.iter_batches(batch_size=rows, columns=columns):
            yield complete(name, derive(name, pa.Table.from_batches([batch])))
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceInputError(f"{file}: unreadable Parquet file ({exc}); re-export the report") from exc


def parquet_table_rows(path: Path, name: str) -> int | None:
    """The rows of one table of a parquetdir export, from the file's footer; None where it cannot be read (the
    read itself then says why)."""
    file = path / f"{name}.parquet"
    if not file.exists():
        return 0
    try:
        return pq.ParquetFile(file).metadata.num_rows
    except (pa.ArrowInvalid, OSError):
        return None


def read_parquetdir(path: Path) -> dict[str, pa.Table]:
    return {name: read_parquet_table(path, name) for name in RAW_COLUMNS}
