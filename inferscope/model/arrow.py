"""Ingest results cast to the model's tables: whatever columns a source has go in, the model's exact contract
comes out (missing columns NULL, extra ones dropped, impossible cells reported in one line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tables import TABLE_BY_NAME

if TYPE_CHECKING:
    import pyarrow as pa


def empty_table(name: str) -> "pa.Table":
    return TABLE_BY_NAME[name].schema.empty_table()


def conform(name: str, data: "pa.Table") -> "pa.Table":
    """Cast `data` to the model schema of `name`: columns reordered, missing ones NULL, extra ones dropped.

    Ingest code can then build a table from whatever the source has and still hand on the exact contract. A
    string column may stay dictionary-encoded (same values, each distinct string stored once: ingest keeps
    names that way so they are not copied per row); `plain` decodes such columns.
    """
    import pyarrow as pa

    schema = TABLE_BY_NAME[name].schema
    fields, arrays = [], []
    for field in schema:
        if field.name not in data.column_names:
            fields.append(field)
            arrays.append(pa.nulls(data.num_rows, field.type))
            continue
        col = data.column(field.name)
        if pa.types.is_dictionary(col.type) and col.type.value_type == field.type:
            fields.append(pa.field(field.name, col.type))
        else:
            col = _cast(name, field, col)
            fields.append(field)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


_NUMBER = {"int": r"^\s*[-+]?\d+\s*$", "float": r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"}


def _cast(table: str, field, col):
    """`col` as `field.type`. SQLite columns are dynamically typed, so an edited export can hold text in a
    numeric column ('many' among register counts); such cells become NULL instead of failing the whole trace.
    Anything else that cannot be cast is an input error, reported in one line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    try:
        return col.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        textual = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        kind = "int" if pa.types.is_integer(field.type) else "float" if pa.types.is_floating(field.type) else None
        if textual and kind:
            try:
                return pc.if_else(pc.match_substring_regex(col, _NUMBER[kind]), col, None).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        from ..errors import TraceInputError

        raise TraceInputError(
            f"{table}.{field.name}: cannot read {col.type} values as {field.type} ({exc}); "
            "the trace looks edited or corrupt, re-export it"
        ) from exc


def plain(table: "pa.Table") -> "pa.Table":
    """`table` with dictionary-encoded columns decoded to their value type (the model's documented types)."""
    import pyarrow as pa

    if not any(pa.types.is_dictionary(t) for t in table.schema.types):
        return table
    return table.cast(
        pa.schema(
            [pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in table.schema]
        )
    )
