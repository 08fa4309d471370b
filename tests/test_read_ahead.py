"""inferscope.ingest.read_ahead: a raw table's batches produced on a thread one ahead of the conversion."""

from __future__ import annotations

import threading
import time

import pytest

from inferscope.ingest.read_ahead import read_ahead


class Source:
    """An iterator that records how far it was read and whether it was closed, as a reader's generator would."""

    def __init__(self, n: int, fail_at: int | None = None):
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = threading.Event()
        self.thread_names: set[str] = set()

    def __iter__(self):
        try:
            for i in range(self.n):
                self.thread_names.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise ValueError(f"bad batch {i}")
                self.produced += 1
                yield i
        finally:
            self.closed.set()


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "inferscope-read-ahead"]


def test_items_in_order_from_another_thread():
    src = Source(50)
    assert list(read_ahead(src)) == list(range(50))
    assert src.closed.is_set()
    assert src.thread_names == {"inferscope-read-ahead"}
    assert not _reader_threads()


def test_error_is_raised_where_its_item_would_have_come():
    src = Source(10, fail_at=4)
    got = []
    with pytest.raises(ValueError, match="bad batch 4"):
        for item in read_ahead(src):
            got.append(item)
    assert got == [0, 1, 2, 3]
    assert src.closed.is_set()
    assert not _reader_threads()


def test_producer_stays_at_most_one_item_ahead():
    src = Source(100)
    items = read_ahead(src)
    assert next(items) == 0
    time.sleep(0.3)  # time for the producer to run ahead as far as it may
    # one handed over, one waiting in the queue, one held by the producer until there is room
    assert src.produced <= 3
    items.close()


def test_consumer_that_stops_early_stops_and_closes_the_source():
    src = Source(10_000)
    items = read_ahead(src)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert src.closed.wait(5)
    assert src.produced < 10
    assert not _reader_threads()


def test_error_in_the_consumer_stops_the_producer():
    src = Source(10_000)
    with pytest.raises(RuntimeError, match="conversion failed"):
        for item in read_ahead(src):
            if item == 2:
                raise RuntimeError("conversion failed")
    assert src.closed.wait(5)
    assert src.produced < 10
    assert not _reader_threads()
