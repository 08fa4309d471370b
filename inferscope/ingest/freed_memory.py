"""Handing memory that a conversion stage has freed back to the system before the next stage needs it."""

from __future__ import annotations

import pyarrow as pa


def release_freed_memory() -> None:
    """Hand memory freed by glibc malloc back to the system. The SQLite reader's Arrow buffers come from malloc,
    while Arrow (mimalloc) and DuckDB (jemalloc) allocate from their own heaps and cannot reuse what malloc
    keeps; without this, each large raw table left ~100 MB resident that the next stage could not use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        pass
    # Arrow's own pool keeps freed pages for reuse too; with long unique NVTX names that was hundreds of MB held
    # through the analysis that follows a cold conversion
    pa.default_memory_pool().release_unused()
