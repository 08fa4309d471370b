"""Copies of a real nsys export edited with sqlite3 for cases the shared traces do not cover. Everything not
named here (schema, timings, ids, the rest of the strings) stays the real export, so every report path runs as
on a real trace.

* hostile_copy: NVTX text, kernel names and thread/process names rewritten to carry HTML/script injection and
  Markdown-breaking text, as they could be when you profile someone else's program.
* stepped_copy: no shared nsys export has step markers, so NVTX ranges `ProfilerStep#N` (what torch.profiler
  emits) and `prefill`/`decode` phase ranges are added around whole groups of the existing top-level ranges of
  each profiled thread; they nest cleanly because their edges are edges of existing ranges.
* long_names_copy: many NVTX ranges named by long, distinct strings (request ids, prompts or shape lists
  formatted into range names), some pairs differing only in their last character."""

from __future__ import annotations

import random
import string
from pathlib import Path

from tests import synth
from tests.synth import copy_export

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MARKDOWN = "aten::mm | `tick` @everyone [link](http://example.invalid) **bold** <b>b</b>"
THREAD = "<script>alert(2)</script>python3"


def hostile_copy(source: Path, directory: Path) -> Path:
    out, con = copy_export(source, directory, "hostile_h100")
    with con:
        # NVTX_EVENTS.text holds inline range names in this export (textId is NULL).
        con.execute("UPDATE NVTX_EVENTS SET text = ? || ' aten::item' WHERE text LIKE 'aten::item,%'", (SCRIPT,))
        con.execute("UPDATE NVTX_EVENTS SET text = ? WHERE text LIKE 'aten::is_nonzero,%'", (IMG,))
        con.execute("UPDATE NVTX_EVENTS SET text = ? WHERE text LIKE 'aten::mm,%'", (MARKDOWN,))
        # Kernel short and demangled names are StringIds rows; so are thread and process names.
        con.execute(
            "UPDATE StringIds SET value = ? || value WHERE value LIKE 'sm80_xmma_gemm_f32f32_f32f32_f32_tn_n_"
            "tilesize64x256x8%'",
            (IMG,),
        )
        con.execute("UPDATE StringIds SET value = ? WHERE value = 'python3'", (THREAD,))
    con.close()
    return out


def stepped_copy(source: Path, directory: Path, steps_per_thread: int = 24) -> Path:
    out, con = copy_export(source, directory, "stepped_h100")
    ranges = con.execute(
        'SELECT start, "end", globalTid FROM NVTX_EVENTS WHERE eventType = 59 ORDER BY globalTid, start, "end" DESC'
    ).fetchall()
    by_thread: dict[int, list[tuple[int, int]]] = {}
    for s, e, tid in ranges:  # top-level ranges: not inside an earlier range of the same thread
        spans = by_thread.setdefault(tid, [])
        if not spans or s >= max(spans[-1][1], 0):
            spans.append((s, e))
        elif e > spans[-1][1]:
            raise ValueError("NVTX ranges of one thread cross; expected push/pop nesting")
    rows = []
    for tid, spans in by_thread.items():
        per_step = max(1, len(spans) // steps_per_thread)
        groups = [spans[i : i + per_step] for i in range(0, per_step * steps_per_thread, per_step)]
        groups = [g for g in groups if g]
        steps = [(g[0][0], max(e for _, e in g)) for g in groups]
        rows += [(s, e, f"ProfilerStep#{k}", tid) for k, (s, e) in enumerate(steps)]
        rows.append((steps[0][0], steps[1][1], "prefill", tid))
        rows.append((steps[2][0], steps[-1][1], "decode", tid))
    with con:
        con.executemany(
            'INSERT INTO NVTX_EVENTS (start, "end", eventType, text, globalTid, domainId) VALUES (?, ?, 59, ?, ?, 0)',
            rows,
        )
    con.close()
    return out


def long_names_copy(source: Path, directory: Path, rows: int, length: int, seed: int = 7) -> tuple[Path, list[str]]:
    """(export, the names added in row order): `rows` NVTX push/pop ranges on the busiest thread, laid end to end
    over the trace's span, each named by a distinct `length`-character string. Every tenth name differs from the
    one before it only in its last character, so nothing that compares prefixes, or shortens names, can tell
    them apart."""
    out, con = copy_export(source, directory, f"long_names_{rows}x{length}")
    synth.ensure_nvtx(con)
    tid = synth.main_thread(con)
    lo, hi = con.execute('SELECT min(start), max("end") FROM CUPTI_ACTIVITY_KIND_RUNTIME').fetchone()
    step = max(2, (hi - lo) // rows)
    rnd = random.Random(seed)
    base = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(length))
    names = []
    for i in range(rows):
        if i % 10 == 1:
            names.append(names[-1][:-1] + ("!" if names[-1][-1] != "!" else "?"))
        else:
            rotated = base[i % 97 :] + base[: i % 97]
            names.append((f"{i:08d}:" + rotated)[:length])
    with con:
        con.executemany(
            'INSERT INTO NVTX_EVENTS (start, "end", eventType, text, globalTid) VALUES (?, ?, 59, ?, ?)',
            ((lo + i * step, lo + i * step + step // 2, name, tid) for i, name in enumerate(names)),
        )
    con.close()
    return out, names
