"""The Parquet cache of converted traces: where it lives, how an entry is keyed, and how to list and clear it.

Converting an export is the slow part (seconds to tens of seconds for a large trace); querying the Parquet is
milliseconds, so every open after the first reads the cache.

The work is split by job: cache_root.py says where the cache lives and lists and clears it; cache_key.py says
what an entry is keyed on and how an opened trace is matched to one cheaply; cache_entry.py finds, checks, repairs
and writes an entry; table_writer.py encodes its tables as Parquet beside the conversion; parquet_footer.py reads a
table's facts from its Parquet footer without pyarrow. This module exists so that callers keep one name to import
(`cache.get_or_build`, `cache.entries`, `cache.clear`, ...).
"""

from __future__ import annotations

from .cache_entry import MAX_WITNESSES, damage, get_or_build, lookup, store, table_facts, write_tables
from .cache_key import SAMPLE_BYTES, content_digest
from .cache_root import (
    ENV_VAR,
    LAST_USED,
    MANIFEST,
    STALE_TMP_SECONDS,
    TMP_PREFIX,
    CacheError,
    Entry,
    clear,
    default_root,
    entries,
    remove_stale_tmp,
    resolve_root,
)
from .parquet_footer import parquet_facts

__all__ = [
    "ENV_VAR",
    "LAST_USED",
    "MANIFEST",
    "MAX_WITNESSES",
    "SAMPLE_BYTES",
    "STALE_TMP_SECONDS",
    "TMP_PREFIX",
    "CacheError",
    "Entry",
    "clear",
    "content_digest",
    "damage",
    "default_root",
    "entries",
    "get_or_build",
    "lookup",
    "parquet_facts",
    "remove_stale_tmp",
    "resolve_root",
    "store",
    "table_facts",
    "write_tables",
]
