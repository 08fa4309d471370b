"""Strings of an nsys export as Arrow dictionary columns, so a name is never copied once per row.

A 1M-kernel export has a few dozen distinct kernel names of a few hundred characters each. Resolving them in SQL
(`JOIN StringIds`) makes DuckDB write every name into every row: 577 MB of Arrow for the kernels table, hashed
again by the Parquet writer to dictionary-encode it. Instead the ingest SQL selects the string *id* under a
column name ending in `__sid`, and `StringTable.resolve` turns that id column into a dictionary column holding
each distinct string once (the Parquet writer then writes the dictionary as it is). NVTX inline texts, which
are not in StringIds, are given ids of their own after the largest StringIds id (`add_texts`), so that a range's
registered (`textId`) and inline (`text`) names live in one id space and one `coalesce` picks between them.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SID_SUFFIX = "__sid"


class StringTable:
    """id -> string for one export. Ids map to positions in `values`, which holds each distinct string once.

    nsys numbers strings densely from 0, so the map is an array indexed by id. An edited export with a huge id
    gets a sorted (id, position) map searched instead, rather than an array as large as its largest id."""

    def __init__(self, ids: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray):
        raw = _int64_or_minus_one(ids)
        keep = raw >= 0
        uid, self.values = _encode(_string(values).filter(pa.array(keep)))
        order = np.argsort(raw[keep], kind="stable")
        self._ids, self._uids = raw[keep][order], uid[order]

    @classmethod
    def from_string_ids(cls, table: pa.Table) -> "StringTable":
        return cls(table.column("id"), table.column("value"))

    @property
    def _next_id(self) -> int:
        return int(self._ids[-1]) + 1 if self._ids.size else 0

    def add_texts(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Ids (int64, NULL where the text is NULL) for strings that are not in StringIds; equal strings, also
        ones already in the table, share one entry of `values`."""
        local, new_values = _encode(_string(texts))
        known = pc.index_in(new_values, value_set=self.values)
        uid = np.asarray(pc.fill_null(known, -1)).astype(np.int64)
        fresh = np.flatnonzero(uid < 0)
        uid[fresh] = len(self.values) + np.arange(fresh.size)
        if fresh.size:
            self.values = pa.concat_arrays([self.values, new_values.take(pa.array(fresh))])
        first = self._next_id
        self._ids = np.concatenate([self._ids, first + np.arange(uid.size, dtype=np.int64)])
        self._uids = np.concatenate([self._uids, uid])
        return pa.array(local + first, mask=local < 0, type=pa.int64())

    def dictionary(self, ids: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
        """The strings of an id column as a dictionary array holding only the strings used; an id that is NULL
        or unknown gives NULL, as the LEFT JOIN on StringIds it replaces did.

        One gather per row: the id -> dictionary-index map is composed on the (small) id space first. Each pass
        over millions of rows costs more in fresh pages than in arithmetic, so there are as few as possible."""
        raw = _int64_or_minus_one(ids)
        distinct = np.asarray(pc.unique(pa.array(raw)))
        used = np.unique(self._uid_of(distinct))
        used = used[used >= 0]
        index_of_uid = np.full(len(self.values) + 1, -1, dtype=np.int32)  # last entry: uid -1 stays -1
        index_of_uid[used] = np.arange(used.size, dtype=np.int32)
        size = self._next_id
        if size <= 4 * self._ids.size + 1024:  # dense ids: one array over the id space, then one gather per row
            dense = np.full(size + 1, -1, dtype=np.int64)  # last entry: id -1 (NULL)
            dense[self._ids] = self._uids
            index_of_id = index_of_uid[dense]
            if raw.size and raw.max() >= size:
                raw = np.where(raw < size, raw, -1)
            indices = index_of_id[raw]
        else:
            indices = index_of_uid[self._uid_of(raw)]
        return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0), self.values.take(pa.array(used)))

    def _uid_of(self, raw: np.ndarray) -> np.ndarray:
        """Position in `values` of each id, -1 where the id is NULL (-1) or unknown."""
        if not self._ids.size:
            return np.full(raw.size, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._ids, raw), self._ids.size - 1)
        return np.where(self._ids[pos] == raw, self._uids[pos], -1)

    def resolve(self, table: pa.Table) -> pa.Table:
        """Replace each `X__sid` id column by the dictionary column `X`, and dictionary-encode the other string
        columns (labels such as 'PushPop'), which the Parquet writer would otherwise hash row by row."""
        names, arrays = [], []
        for name, col in zip(table.column_names, table.columns):
            if name.endswith(SID_SUFFIX):
                name, col = name[: -len(SID_SUFFIX)], self.dictionary(col)
            elif col.null_count == len(col) and not pa.types.is_dictionary(col.type):
                col = pa.nulls(len(col), pa.dictionary(pa.int32(), pa.string()))
            elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                local, values = _encode(col)
                col = pa.DictionaryArray.from_arrays(pa.array(local.astype(np.int32), mask=local < 0), values)
            names.append(name)
            arrays.append(col)
        return pa.Table.from_arrays(arrays, names=names)


def _encode(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(index per row, -1 for NULL; the distinct values). Chunks of a dictionary-encoded ChunkedArray share one
    dictionary, the last chunk's being complete."""
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return np.empty(0, dtype=np.int64), pa.array([], type=pa.string())
    local = np.concatenate([np.asarray(c.indices.fill_null(-1)).astype(np.int64) for c in chunks])
    return local, chunks[-1].dictionary


def _string(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _int64_or_minus_one(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Ids as int64 numpy with NULL (and NULL-typed columns) as -1."""
    if pa.types.is_null(ids.type):
        return np.full(len(ids), -1, dtype=np.int64)
    return np.asarray(pc.fill_null(ids.cast(pa.int64()), -1)).astype(np.int64, copy=False)
