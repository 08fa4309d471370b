"""Read the next batch of a raw table while the current one is being converted.

Why: a large export's streamed tables (NVTX_EVENTS past nvtx_stream.STREAM_ROWS, kernels and runtime calls past
nsys.STREAM_ROWS) were read from SQLite and converted in turn, on one core: at 5M NVTX ranges the SQLite reads
alone were 4 s of a 14 s conversion, with the second core idle. ADBC's reader and the Arrow and DuckDB work on a
batch all release the GIL, so a reader thread one batch ahead overlaps the two.

Memory: one batch in the queue beside the one being converted and the one being read.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """`items` in order, produced on a thread of its own at most one item ahead of the consumer. An error in
    `items` is raised here, where the item would have come; a consumer that stops early (an error, or `close`)
    stops the producer, which closes `items` on its own thread."""
    ahead: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not _put(ahead, (item, None), stop):
                    return
                del item
            _put(ahead, (_DONE, None), stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(ahead, (_DONE, exc), stop)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="inferscope-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = ahead.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
            del item
    finally:
        stop.set()
        while thread.is_alive():  # free a producer blocked on a full queue
            try:
                ahead.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def _put(ahead: queue.Queue, entry: tuple, stop: threading.Event) -> bool:
    """Put `entry` once there is room; False when the consumer has gone."""
    while not stop.is_set():
        try:
            ahead.put(entry, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
