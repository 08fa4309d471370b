"""Split a Kineto Chrome-trace JSON document into its metadata and its raw `traceEvents` array text.

DuckDB reads a top-level JSON *array* of events fast (`read_json(format='array')`, one thread per file: hence
`split_array`), but a single object holding a huge `traceEvents` array is read as one record and is several times
slower. So the document is cut in two here: the small metadata keys are parsed with orjson, and the bytes of the
events array are handed to DuckDB. Timestamps are read as text and converted to ns with decimal arithmetic; where their digits exceed what
a double keeps (ns digits on epoch µs), they are quoted first so that DuckDB sees the exact text. A document
whose layout defeats the cut falls back to a full orjson parse.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path
from typing import Iterator

import orjson

from ..errors import TraceInputError
from .formats import GZIP_MAGIC
from .read_ahead import read_ahead

_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
# the events array ends with `}` (last event) or `[` (empty array), optional whitespace, then `]`
_ARRAY_END = re.compile(rb"[}\[]\s*\](?=\s*[,}])")
_TAIL_WINDOWS = (1 << 16, 1 << 20)
_LEADING_SPACE = re.compile(rb"\s*")


def read_bytes(path: Path) -> bytes:
    """The document's bytes, gunzipped when the file is gzip (by content, not by name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TraceInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if data[:2] == GZIP_MAGIC:
        try:
            inflater = zlib.decompressobj(wbits=31)  # gzip framing; zlib checks the CRC while inflating
            out = inflater.decompress(data)
            if not inflater.eof:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            data = gzip.decompress(data) if inflater.unused_data.strip(b"\0") else out  # several gzip members
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise TraceInputError(
                f"{path}: truncated or corrupt gzip file ({exc}); re-copy or re-export the trace"
            ) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data


_IN_CHUNK = 1 << 18  # compressed bytes per inflate step: JSON inflates ~10x, so a few MB of output at a time
_HEAD_LIMIT = 64 << 20  # metadata before traceEvents larger than this: the whole document is read instead
_KEEP_TAIL = (1 << 20) + (1 << 16)  # the end of the array is looked for in the last MiB (_TAIL_WINDOWS)


def _pieces(path: Path) -> Iterator[bytes]:
    """The document's bytes in pieces as read, gunzipped when the file is gzip (by content, not by name), so that
    neither the compressed file nor the document is ever held whole (zlib's growing output buffer alone was twice
    the document: 2 GB for a 1 GB trace)."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise TraceInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with f:
        data = f.read(_IN_CHUNK)
        if data[:2] != GZIP_MAGIC:
            while data:
                yield data
                data = f.read(_IN_CHUNK)
            return
        inflater = zlib.decompressobj(wbits=31)  # gzip framing; zlib checks each member's CRC while inflating
        try:
            while data:
                out = inflater.decompress(data)
                if out:
                    yield out
                if inflater.eof:  # another gzip member may follow, or zero padding; read on a chunk at a time
                    data = inflater.unused_data or f.read(_IN_CHUNK)
                    while data and not data.strip(b"\0"):
                        data = f.read(_IN_CHUNK)
                    if not data:
                        return
                    inflater = zlib.decompressobj(wbits=31)
                    continue
                data = f.read(_IN_CHUNK)
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        except (EOFError, zlib.error, OSError) as exc:
            raise TraceInputError(
                f"{path}: truncated or corrupt gzip file ({exc}); re-copy or re-export the trace"
            ) from exc


def extract_events(path: Path, dest: Path) -> tuple[dict, bool] | None:
    """Write the bytes of the document's events array to `dest` as the document is read (and inflated): its
    metadata, and whether the times need their exact text (`needs_exact_times`). None when the layout needs the
    whole document (no traceEvents key in the first 64 MB, or more than a MiB of keys after the array); then use
    `split_document(path, read_bytes(path))`."""
    pieces = read_ahead(_pieces(path))  # the next piece is inflated while this one is written (both drop the GIL)
    head = bytearray()
    meta: dict | None = None
    scanned, bare = 0, False
    for piece in pieces:
        head += piece
        if not scanned:
            if head.startswith(b"\xef\xbb\xbf"):
                del head[:3]
            start = _LEADING_SPACE.match(head).end()
            if start == len(head):
                continue
            if head[start : start + 1] == b"[":  # Chrome "JSON Array Format": the whole document is the event list
                meta, array_start, bare = {}, 0, True
                break
            if head[start : start + 1] != b"{":
                raise TraceInputError(f"{path}: not JSON (a PyTorch profiler trace starts with '{{' or '[')")
        for m in _EVENTS_KEY.finditer(head, max(0, scanned - 64)):
            try:
                meta = orjson.loads(bytes(head[: m.start()]) + b'"traceEvents": 0}')
            except orjson.JSONDecodeError:
                continue  # the text "traceEvents" inside an earlier value; look further
            array_start = m.end() - 1
            break
        if meta is not None:
            break
        scanned = len(head)
        if scanned > _HEAD_LIMIT:
            return None
    if meta is None:
        return None
    meta.pop("traceEvents", None)
    written = 0
    sample = bytes(head[array_start : array_start + _SAMPLE])
    last = bytearray(head[array_start:])
    with dest.open("wb") as out:
        out.write(last)
        written += len(last)
        for piece in pieces:
            out.write(piece)
            written += len(piece)
            last += piece
            if len(last) > 2 * _KEEP_TAIL:
                del last[: len(last) - _KEEP_TAIL]
            if len(sample) < _SAMPLE:
                sample += piece[: _SAMPLE - len(sample)]
    if not bare:  # an object: the file is cut where the array closes; the keys after it are metadata too
        cut = _find_array_end(bytes(last), 0)
        if cut is None:
            return None
        close, tail = cut
        tail.pop("traceEvents", None)
        os.truncate(dest, written - len(last) + close + 1)
        meta = {**meta, **tail}
    return meta, needs_exact_times(memoryview(sample))


def split_document(path: Path, data: bytes) -> tuple[dict, memoryview]:
    """Return (metadata dict, the bytes of the JSON array of events, as a view into `data`: no copy)."""
    start = _LEADING_SPACE.match(data).end()
    first = data[start : start + 1]
    if first == b"[":  # Chrome "JSON Array Format": the whole document is the event list
        return {}, memoryview(data)
    if first != b"{":
        raise TraceInputError(f"{path}: not JSON (a PyTorch profiler trace starts with '{{' or '[')")
    for m in _EVENTS_KEY.finditer(data):
        try:
            head = orjson.loads(data[: m.start()] + b'"traceEvents": 0}')
        except orjson.JSONDecodeError:
            continue  # the text "traceEvents" inside an earlier value; look further
        array_start = m.end() - 1
        cut = _find_array_end(data, array_start)
        if cut is None:
            break
        end, tail = cut
        head.pop("traceEvents", None)
        tail.pop("traceEvents", None)
        return {**head, **tail}, memoryview(data)[array_start : end + 1]
    return _split_by_full_parse(path, data)


def _find_array_end(data: bytes, array_start: int) -> tuple[int, dict] | None:
    """Position of the `]` closing the events array, and the metadata keys after it.

    Any `]` inside the events array leaves an unbalanced remainder, so the earliest candidate whose remainder
    parses as the rest of an object is the array's end. The remainder is small (a few keys), so only the last
    bytes are searched, in growing windows.
    """
    for window in _TAIL_WINDOWS:
        lo = max(array_start, len(data) - window)
        found = None
        for m in _ARRAY_END.finditer(data, lo):
            close = m.end() - 1
            try:
                tail = orjson.loads(b'{"traceEvents": 0' + data[close + 1 :])
            except orjson.JSONDecodeError:
                continue
            if isinstance(tail, dict):
                found = (close, tail)
                break
        if found is not None:
            return found
        if lo == array_start:
            return None
    return None


def _split_by_full_parse(path: Path, data: bytes) -> tuple[dict, memoryview]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TraceInputError(f"{path}: not valid JSON ({exc}); the file may be truncated") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        raise TraceInputError(f"{path}: JSON without a traceEvents array: not a PyTorch profiler (Kineto) trace")
    events = doc.pop("traceEvents")
    return doc, memoryview(orjson.dumps(events))


_TIME_VALUE = re.compile(rb'("(?:ts|dur)"\s*:\s*)(-?[0-9][0-9.eE+-]*)')
_SAMPLE = 1 << 20


def needs_exact_times(events: memoryview) -> bool:
    """True when timestamps carry more significant digits than a double keeps (ns digits on epoch µs).

    DuckDB's JSON reader parses numbers as doubles, which round 1712195495519695.801 µs to a 0.25 µs step. A
    text with at most 16 significant digits survives the double and its shortest repr; longer ones (seen in a
    sample of the first MiB) need the raw text.
    """
    for m in _TIME_VALUE.finditer(bytes(events[:_SAMPLE])):
        digits = m.group(2).split(b"e")[0].split(b"E")[0].lstrip(b"-").replace(b".", b"").lstrip(b"0")
        if b"." in m.group(2) and len(digits) > 16:
            return True
    return False


def quote_times(events: memoryview) -> bytes:
    """The events with every ts/dur number turned into a JSON string of the same text, so DuckDB reads the exact
    decimal digits (about 15 ns of CPU per event: used only when needs_exact_times says so)."""
    return _TIME_VALUE.sub(rb'\1"\2"', bytes(events))


# Where one event ends and the next begins: `}` `,` `{` and a key an event starts with (Kineto writes "ph" first,
# metadata events "name"), whitespace allowed between; a nested list of objects in args seldom looks like that.
_EVENT_GAP = re.compile(rb'\}\s*,\s*\{\s*"(?:ph|name|cat|pid|tid|ts)"\s*:')
MIN_PART_BYTES = 16 << 20  # smaller arrays are read as one file: splitting them would save milliseconds
_GAP_WINDOWS = (1 << 16, 1 << 20, 1 << 24)


def split_array(path: Path, parts: int) -> list[Path]:
    """Cut the JSON array of events in `path` into up to `parts` files, each a JSON array of whole events, in
    order: `path` itself (truncated) and `path.N.json` beside it. The list of files.

    Why: DuckDB reads one JSON array on one thread (4.1 s for the 975 MB x23 trace on a 2-core machine) but
    several files on several threads (2.1 s for two halves; the cut costs 0.2 s, a kernel-side copy of the later
    parts). Every cut is at a `}` `,` `{"ph":` (or another key an event starts with) outside any string: inside a
    string every quote is escaped, so the pattern cannot match there. A cut inside a nested value of args (a list
    of objects keyed like events) is not detected here: it leaves the neighbouring files invalid JSON, the read
    fails, and `join_parts` puts the array back together for a read of the whole, so a wrong cut costs time, never
    a wrong row."""
    size = path.stat().st_size
    if parts < 2 or size < 2 * MIN_PART_BYTES:
        return [path]
    parts = min(parts, size // MIN_PART_BYTES)
    cuts: list[tuple[int, int]] = []  # (end of an event: truncate here, start of the next: copy from here)
    with path.open("rb") as fh:
        for k in range(1, parts):
            at = max(size * k // parts, cuts[-1][1] if cuts else 1)
            for window in _GAP_WINDOWS:
                fh.seek(at)
                m = _EVENT_GAP.search(fh.read(window))
                if m is not None:
                    cuts.append((at + m.start() + 1, at + m.start() + m.group().rindex(b"{")))
                    break
    if not cuts:
        return [path]
    files = [path]
    with path.open("rb") as src:
        for k, (_, start) in enumerate(cuts, 1):
            stop = cuts[k][0] if k < len(cuts) else size
            part = path.with_name(f"{path.name}.{k}.json")
            with part.open("wb") as dst:
                dst.write(b"[")
                dst.flush()
                _copy_range(src, dst, start, stop - start)
                if k < len(cuts):
                    dst.write(b"]")
            files.append(part)
    os.truncate(path, cuts[0][0])
    with path.open("ab") as fh:
        fh.write(b"]")
    return files


def join_parts(files: list[Path]) -> Path:
    """Undo `split_array`: the first file holds the whole array again (the others are removed); it is returned."""
    first = files[0]
    with first.open("r+b") as dst:
        for part in files[1:]:
            dst.seek(-1, os.SEEK_END)  # over the `]` that closes the array so far
            dst.write(b",")
            dst.flush()
            with part.open("rb") as src:
                _copy_range(src, dst, 1, src.seek(0, os.SEEK_END) - 1)  # without the part's `[`
            part.unlink()
    return first


def _copy_range(src, dst, offset: int, count: int) -> None:
    """Copy `count` bytes of `src` from `offset` to `dst`'s position, in the kernel where it can."""
    try:
        while count > 0:
            n = os.copy_file_range(src.fileno(), dst.fileno(), count, offset)
            if n == 0:
                break
            offset += n
            count -= n
        dst.seek(0, os.SEEK_END)
    except (OSError, AttributeError):  # no copy_file_range here (another OS, an old kernel): through Python
        dst.seek(0, os.SEEK_END)
        src.seek(offset)
        while count > 0:
            chunk = src.read(min(count, 1 << 22))
            if not chunk:
                break
            dst.write(chunk)
            count -= len(chunk)
