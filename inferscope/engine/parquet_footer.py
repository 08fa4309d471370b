"""Reading a Parquet file's row count, size and columns from its footer alone, without pyarrow.

Every open of a cached trace checks each table against its entry's manifest (see `cache_entry.damage`), and a
cache hit must stay cheap: it loads no pyarrow at all, and reads a few KB of footer rather than any data pages. So
the footer, which is Thrift's compact protocol, is decoded here by hand: only what `parquet_facts` needs, with
every length checked, since the files read are exactly the ones that may be truncated or overwritten.
"""

from __future__ import annotations

from pathlib import Path


class _Footer(Exception):
    """A Parquet footer that cannot be read."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = out = 0
    while True:
        if i >= len(buf):
            raise _Footer("footer ends inside a number")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return out, i
        if shift > 70:
            raise _Footer("bad number in the footer")


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _thrift_value(buf: bytes, i: int, kind: int, depth: int = 0):
    """One value of Thrift's compact protocol (the encoding of Parquet's footer) starting at buf[i]."""
    if depth > 32:
        raise _Footer("footer nested too deeply")
    if kind in (1, 2):  # a bool inside a list: one byte
        if i >= len(buf):
            raise _Footer("footer ends early")
        return buf[i] == 1, i + 1
    if kind == 3:
        if i >= len(buf):
            raise _Footer("footer ends early")
        return buf[i], i + 1
    if kind in (4, 5, 6):
        n, i = _varint(buf, i)
        return _zigzag(n), i
    if kind == 7:
        if i + 8 > len(buf):
            raise _Footer("footer ends early")
        return None, i + 8
    if kind == 8:
        n, i = _varint(buf, i)
        if i + n > len(buf):
            raise _Footer("footer ends inside a string")
        return buf[i : i + n], i + n
    if kind in (9, 10):
        if i >= len(buf):
            raise _Footer("footer ends early")
        head = buf[i]
        i += 1
        size, elem = head >> 4, head & 0x0F
        if size == 15:
            size, i = _varint(buf, i)
        items = []
        for _ in range(size):
            v, i = _thrift_value(buf, i, elem, depth + 1)
            items.append(v)
        return items, i
    if kind == 11:
        size, i = _varint(buf, i)
        if size == 0:
            return {}, i
        if i >= len(buf):
            raise _Footer("footer ends early")
        kv = buf[i]
        i += 1
        out = {}
        for _ in range(size):
            k, i = _thrift_value(buf, i, kv >> 4, depth + 1)
            v, i = _thrift_value(buf, i, kv & 0x0F, depth + 1)
            out[k if not isinstance(k, (list, dict)) else repr(k)] = v
        return out, i
    if kind == 12:
        fields: dict[int, object] = {}
        last = 0
        while True:
            if i >= len(buf):
                raise _Footer("footer ends inside a structure")
            head = buf[i]
            i += 1
            if head == 0:
                return fields, i
            delta, ftype = head >> 4, head & 0x0F
            if delta:
                fid = last + delta
            else:
                n, i = _varint(buf, i)
                fid = _zigzag(n)
            last = fid
            if ftype in (1, 2):  # a bool field carries its value in its type
                fields[fid] = ftype == 1
            else:
                fields[fid], i = _thrift_value(buf, i, ftype, depth + 1)
    raise _Footer(f"unknown type {kind} in the footer")


def parquet_facts(file: Path) -> dict:
    """{"rows", "bytes", "columns": [[name, physical type], ...]} of a Parquet file, from its footer alone.
    Raises OSError or _Footer when the file is missing, truncated or not Parquet."""
    size = file.stat().st_size
    with file.open("rb") as fh:
        if size < 12 or fh.read(4) != b"PAR1":
            raise _Footer("not a Parquet file")
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length <= 0 or length > size - 12:
            raise _Footer("no Parquet footer at the end (truncated?)")
        fh.seek(size - 8 - length)
        footer = fh.read(length)
    meta, _ = _thrift_value(footer, 0, 12)
    rows, schema = meta.get(3), meta.get(2)
    if not isinstance(rows, int) or not isinstance(schema, list):
        raise _Footer("Parquet footer without a row count or schema")
    columns = []
    for element in schema[1:]:  # the first element is the root
        if not isinstance(element, dict) or not isinstance(element.get(4), bytes):
            raise _Footer("unreadable column in the Parquet footer")
        columns.append([element[4].decode("utf-8", "replace"), element.get(1)])
    return {"rows": rows, "bytes": size, "columns": columns}
