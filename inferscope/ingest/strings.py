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
    """id -> string for one export. Ids map to positions in `values`, which holds each distinct string once, as
    segments (StringIds' strings, then the NVTX inline texts as they were read) so that adding texts copies none.

    nsys numbers strings densely from 0, so the map is an array indexed by id. An edited export with a huge id
    gets a sorted (id, position) map searched instead, rather than an array as large as its largest id."""

    def __init__(self, ids: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray):
        raw = _int64_or_minus_one(ids)
        keep = raw >= 0
        uid, distinct = _encode(_string(values).filter(pa.array(keep)))
        self.values = pa.chunked_array([_one_array(distinct)])
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
        local, new_values = _encode(_string(texts), exact=False)
        known = pc.index_in(new_values, value_set=_one_array(self.values))
        uid = np.asarray(pc.fill_null(known, -1)).astype(np.int64)
        fresh = np.flatnonzero(uid < 0)
        uid[fresh] = len(self.values) + np.arange(fresh.size)
        if fresh.size == len(new_values):  # all new (long distinct texts): the text buffers as read, uncopied
            added = new_values.chunks
        else:
            is_fresh = np.zeros(len(new_values), dtype=bool)
            is_fresh[fresh] = True
            added = new_values.filter(pa.array(is_fresh)).chunks
        self.values = pa.chunked_array([*self.values.chunks, *added], type=self.values.type)
        del new_values
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
        return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0), _take_sorted(self.values, used))

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
                values = _one_array(values)
                col = pa.DictionaryArray.from_arrays(pa.array(local.astype(np.int32), mask=local < 0), values)
            names.append(name)
            arrays.append(col)
        return pa.Table.from_arrays(arrays, names=names)


# Above this many bytes of text a column is deduplicated by hash instead of with Arrow's dictionary_encode, whose
# hash table keeps its own copy of every distinct string and which gives each chunk of a ChunkedArray its own,
# growing dictionary: 150 MB of unique 10 KB NVTX names took 450 MB more to encode (issue 17, class 8).
HASHED_ENCODE_BYTES = 32 << 20
# the hash rows are grouped by; a test swaps in a weak one to exercise the collision path
HASH_SQL = "hash(t)"


def _encode(values: pa.Array | pa.ChunkedArray, exact: bool = True) -> tuple[np.ndarray, pa.ChunkedArray]:
    """(index per row, -1 for NULL; the distinct values, as chunks so that a caller appending them to other
    strings copies them once). With exact=False the values may also hold entries no index points to (repeats,
    NULLs), where that saves copying the strings: a StringTable only ever reads the entries its ids point to."""
    if values.nbytes > HASHED_ENCODE_BYTES:
        return _encode_hashed(values, exact)
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return np.empty(0, dtype=np.int64), pa.chunked_array([], type=pa.string())
    local = np.concatenate([np.asarray(c.indices.fill_null(-1)).astype(np.int64) for c in chunks])
    # chunks of a dictionary-encoded ChunkedArray share one dictionary, the last chunk's being complete
    return local, pa.chunked_array([chunks[-1].dictionary])


def _encode_hashed(values: pa.Array | pa.ChunkedArray, exact: bool = True) -> tuple[np.ndarray, pa.ChunkedArray]:
    """_encode for large text: rows grouped by a 64-bit hash of their string, so the only copy made is of the
    distinct strings (in first-seen order), and none when every row is distinct. Where rows share a hash, DuckDB
    counts the distinct strings among them; should two different strings ever share a hash, the column is encoded
    exactly the slow way instead, so two names are never merged."""
    from .. import duckdb_conn

    column = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    valid = np.asarray(column.is_valid()).astype(bool, copy=False) if column.null_count else None
    rows = np.flatnonzero(valid) if valid is not None else np.arange(len(column))
    con = duckdb_conn.connect()
    try:
        con.register("texts", pa.table({"t": column}))
        hashes = con.sql(f"SELECT {HASH_SQL} AS h FROM texts").to_arrow_table().column("h").to_numpy()
        _, first, inverse = np.unique(hashes[rows], return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        size = np.bincount(inverse, minlength=first.size)
        if (size > 1).any():
            shared = np.zeros(len(column), dtype=bool)
            shared[rows] = size[inverse] > 1
            con.unregister("texts")
            con.register("texts", pa.table({"t": column, "shared": shared}))
            strings = con.execute("SELECT count(DISTINCT t) FROM texts WHERE shared").fetchall()[0][0]
            if strings != int((size > 1).sum()):  # a hash shared by different strings
                encoded = pc.dictionary_encode(column.combine_chunks())
                indices = np.asarray(encoded.indices.fill_null(-1)).astype(np.int64)
                return indices, pa.chunked_array([encoded.dictionary])
    finally:
        con.close()
    # the first occurrences, in row order, are the distinct strings in first-seen order, and a group's rank
    # among them is its index
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    local = np.full(len(column), -1, dtype=np.int64)
    if first.size == len(column):
        local[rows] = rank[inverse]
        return local, column  # every row distinct: the column is its own set of values
    if not exact and 2 * first.size > len(column):
        # mostly distinct: each row points at its string's first row, and the column serves as the values
        local[rows] = rows[first][inverse]
        return local, column
    local[rows] = rank[inverse]
    keep = np.zeros(len(column), dtype=bool)
    keep[rows[first]] = True
    return local, column.filter(pa.array(keep))  # chunk by chunk, never the whole column at once


def _take_sorted(values: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """values[positions] for ascending positions as one array, segment by segment, so that the strings are copied
    once: a segment used whole is taken as it is, one used in long runs (NVTX texts read with the rows they share
    with repeats and NULLs) as zero-copy slices, and others (a few names out of StringIds) with a take. Taking
    from the ChunkedArray itself made some Arrow releases concatenate it first, an extra copy of every text."""
    parts, start = [], 0
    for chunk in values.chunks:
        lo, hi = np.searchsorted(positions, [start, start + len(chunk)])
        local = positions[lo:hi] - start
        start += len(chunk)
        if local.size == len(chunk):
            parts.append(chunk)
        elif local.size:
            breaks = np.flatnonzero(np.diff(local) != 1) + 1
            if breaks.size < local.size // 16:  # long runs
                bounds = zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [local.size]]))
                parts.extend(chunk.slice(int(local[a]), int(b - a)) for a, b in bounds)
            else:
                parts.append(chunk.take(pa.array(local)))
    if len(parts) == 1:
        return parts[0]
    return pa.concat_arrays(parts) if parts else pa.array([], type=values.type)


def _one_array(values: pa.ChunkedArray) -> pa.Array:
    if values.num_chunks == 1:
        return values.chunk(0)
    return pa.concat_arrays(values.chunks) if values.num_chunks else pa.array([], type=values.type)


def _string(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _int64_or_minus_one(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Ids as int64 numpy with NULL (and NULL-typed columns) as -1."""
    if pa.types.is_null(ids.type):
        return np.full(len(ids), -1, dtype=np.int64)
    return np.asarray(pc.fill_null(ids.cast(pa.int64()), -1)).astype(np.int64, copy=False)
