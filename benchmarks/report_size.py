"""How big the reports get, and how long they take, on a large trace: the HTML must stay small however many
events the trace holds (charts and tables are aggregated in DuckDB, never one element per event).

    python benchmarks/tile_nsys.py sample_traces/h100_2gpu_fastvideo.sqlite /tmp/h100_1m.sqlite --kernels 1000000
    python benchmarks/report_size.py /tmp/h100_1m.sqlite [--analyze] [--out DIR]

Prints the event counts, the time to convert (first open), to build the report data, to render each format,
and the size of each output (with --perfetto, also the Chrome-trace export's).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's inferscope, not an installed one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", type=Path)
    ap.add_argument("--analyze", action="store_true", help="include the analysis (findings, metrics, steps)")
    ap.add_argument("--out", type=Path, default=None, help="keep the reports here")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--perfetto", action="store_true", help="also time `export-perfetto` (no findings) and size it")
    args = ap.parse_args()

    import inferscope
    from inferscope.render.report import render_html, render_markdown
    from inferscope.render.report_data import build

    t0 = time.perf_counter()
    t = inferscope.open(args.trace, cache_dir=args.cache_dir)
    t_open = time.perf_counter() - t0
    counts = {n: t.table(n).num_rows for n in ("kernels", "memcpy", "api_calls", "nvtx_ranges")}
    print(f"{args.trace.name}: " + ", ".join(f"{n} {v:,}" for n, v in counts.items()))
    print(f"open (convert or cache hit): {t_open:.2f} s")
    analysis = None
    if args.analyze:
        t0 = time.perf_counter()
        analysis = t.analyze()
        print(f"analyze: {time.perf_counter() - t0:.2f} s, {len(analysis.findings)} findings")
    t0 = time.perf_counter()
    data = build(t, analysis)
    print(f"report data (SQL aggregation): {time.perf_counter() - t0:.2f} s")
    out = args.out or Path(tempfile.mkdtemp(prefix="inferscope-report-size-"))
    out.mkdir(parents=True, exist_ok=True)
    for fmt, render in (("html", render_html), ("md", render_markdown)):
        t0 = time.perf_counter()
        text = render(data)
        elapsed = time.perf_counter() - t0
        path = out / f"{args.trace.stem}.{fmt}"
        path.write_text(text, encoding="utf-8")
        size = path.stat().st_size
        print(f"{fmt}: {size:,} bytes ({size / 1024:.0f} KiB), rendered in {elapsed:.2f} s -> {path}")
    if args.perfetto:
        from inferscope.render.perfetto import export_perfetto

        t0 = time.perf_counter()
        path = export_perfetto(
            t, out / f"{args.trace.stem}.perfetto.json", findings=analysis.findings if analysis else None
        )
        print(f"perfetto json: {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f} s -> {path}")


if __name__ == "__main__":
    main()
