"""A real nsys export made hostile: a copy of sample_traces/h100_2gpu_fastvideo.sqlite whose NVTX text, kernel
names and thread/process names were rewritten with sqlite3 to carry HTML/script injection and Markdown-breaking
text. Everything else (schema, timings, ids) is the real export, so every report path runs as it would on a real
trace; only the strings are attacker-controlled, as they are when you profile someone else's program."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MARKDOWN = "aten::mm | `tick` @everyone [link](http://example.invalid) **bold** <b>b</b>"
THREAD = "<script>alert(2)</script>python3"


def hostile_copy(source: Path, directory: Path) -> Path:
    out = directory / "hostile_h100.sqlite"
    shutil.copy(source, out)
    out.chmod(0o644)
    con = sqlite3.connect(out)
    with con:
        # NVTX_EVENTS.text holds inline range names in this export (textId is NULL).
        con.execute("UPDATE NVTX_EVENTS SET text = ? || ' aten::item' WHERE text LIKE 'aten::item,%'", (SCRIPT,))
        con.execute("UPDATE NVTX_EVENTS SET text = ? WHERE text LIKE 'aten::is_nonzero,%'", (IMG,))
        con.execute("UPDATE NVTX_EVENTS SET text = ? WHERE text LIKE 'aten::mm,%'", (MARKDOWN,))
        # Kernel short and demangled names are StringIds rows; so are thread and process names.
        con.execute("UPDATE StringIds SET value = ? || value WHERE value LIKE 'sm80_xmma_gemm_f32f32_f32f32_f32_tn_n_"
                    "tilesize64x256x8%'", (IMG,))
        con.execute("UPDATE StringIds SET value = ? WHERE value = 'python3'", (THREAD,))
    con.close()
    return out
