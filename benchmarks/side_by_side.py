"""InferScope against its peers on the same large files, in one run: the figures issue 21's targets are judged by.

Rows (each tool in its own process, timed with the peak RSS of its whole process tree):

* the shared H100 FastVideo export tiled x300 (about 1.03M kernels; x3000 with --x3000, which needs >10 GB):
  `nsys stats` (default reports) + `nsys analyze` (its six rules), nsys-ai when installed, and
  `inferscope analyze` cold (empty cache) and warm (cache present);
* the shared V100 Kineto trace tiled x23 (about 5M events): HTA (load + temporal, kernel and idle breakdowns)
  when installed, and `inferscope analyze` cold and warm;
* two small shared traces (H200 eager and CUDA-graph LLM decode), `inferscope analyze` cold and warm: the fixed
  costs (imports, view creation) that dominate there.

Each InferScope warm row is followed by two more warm runs: the terminal report (its top-kernel table is queried
after the stored analysis is read) and a run with a rule parameter changed (no stored analysis matches; the stored
derived tables are loaded and the metrics and rules run again). Tiles are written once under --work and reused. Wall times on a shared machine are noisy; CPU seconds less so.

    python benchmarks/side_by_side.py --work DIR [--x3000] [--skip-peers] [--only nsys|kineto|small]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_analyze import NSYS_RULES  # noqa: E402
from harness import REPO, compile_checkout, repo_env, timed_tree  # noqa: E402
from tile_nsys import tile  # noqa: E402

SHARED = Path(os.environ.get("INFERSCOPE_SHARED", REPO.parent / "shared")) / "traces"
H100 = SHARED / "nsys/h100_2gpu_fastvideo.sqlite"
V100 = SHARED / "kineto/v100_rank1_train.json.gz"
SMALL = (SHARED / "h200/h200_llm_decode_eager.json.gz", SHARED / "h200/h200_llm_decode_cudagraph.json.gz")

# issue 21's targets: (cold s, warm s, peak RSS MB); None where the issue sets none
TARGETS = {
    "nsys x300": (8.0, 1.5, 1500),
    "nsys x3000": (120.0, None, 3000),
    "kineto x23": (20.0, 2.0, 1500),
    "small": (2.0, 0.5, None),
}


def nsys_tile(work: Path, copies: int) -> Path:
    import sqlite3

    out = work / f"h100_x{copies}.sqlite"
    if not out.exists():
        con = sqlite3.connect(f"file:{H100}?mode=ro", uri=True)
        base = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
        con.close()
        part = out.with_name(out.name + ".part")
        info = tile(H100, part, base * copies)
        part.rename(out)
        print(f"tiled {H100.name} x{info['copies']}: " + ", ".join(f"{k}={v:,}" for k, v in info["rows"].items()))
    return out


def kineto_tile(work: Path, copies: int) -> Path:
    from bench_kineto import tile as tile_kineto

    out = work / f"v100_x{copies}.json.gz"
    if not out.exists():
        import orjson

        base = len(orjson.loads(gzip.decompress(V100.read_bytes()))["traceEvents"])
        part = out.with_name(out.name + ".part")
        n = tile_kineto(V100, part, base * copies)
        part.rename(out)
        print(f"tiled {V100.name} x{copies}: {n:,} events")
    return out


def inferscope_cold_warm(source: Path, work: Path, label: str) -> tuple[dict, dict, dict, dict]:
    """`inferscope analyze` with an empty cache, then again with the cache it left (which reads the stored
    analysis), then the terminal report that follows it (the stored derived tables read as views), and then with a
    rule parameter changed (the stored derived tables loaded, the metrics and rules run again)."""
    cache = work / f"cache-{label}"
    shutil.rmtree(cache, ignore_errors=True)
    out = work / f"analysis-{label}.json"
    cmd = [sys.executable, "-m", "inferscope", "analyze", str(source), "--cache-dir", str(cache)]
    cold = timed_tree([*cmd, "-o", str(out)], repo_env())
    warm = timed_tree([*cmd, "-o", str(out)], repo_env())
    terminal = timed_tree(cmd, repo_env())
    changed = timed_tree([*cmd, "-o", str(work / f"analysis-{label}-param.json"), "--param", "gpu_gaps.gap_ns=1000"],
                         repo_env())  # fmt: skip
    doc = json.loads(out.read_text())
    kernels = next((m["value"] for m in doc["metrics"] if m["id"] == "kernel_count"), None)
    cold["note"] = f"{kernels:,.0f} kernels, {len(doc['findings'])} findings" if kernels is not None else ""
    return cold, warm, terminal, changed


def warm_lines(terminal: dict, changed: dict) -> None:
    print(line("inferscope analyze, warm, terminal report", terminal))
    print(line("inferscope analyze, warm, a parameter changed", changed))


def line(name: str, r: dict | None, why: str = "") -> str:
    if r is None:
        return f"  {name:44s} {'-':>9s} {'-':>10s} {'-':>9s}  {why}"
    return f"  {name:44s} {r['wall_s']:8.1f}s {r['cpu_s']:9.1f}s {r['rss_mb']:7,d}MB  {r.get('note', '')}"


def verdict(label: str, cold: dict, warm: dict) -> str:
    t_cold, t_warm, t_rss = TARGETS[label]
    parts = []
    for what, value, target, unit in (
        ("cold", cold["wall_s"], t_cold, "s"),
        ("warm", warm["wall_s"], t_warm, "s"),
        ("peak RSS", max(cold["rss_mb"], warm["rss_mb"]), t_rss, "MB"),
    ):
        if target is not None:
            parts.append(
                f"{what} {value:,.1f}{unit} (target <= {target:,g}{unit}: {'met' if value <= target else 'NOT met'})"
            )
    return "  targets: " + "; ".join(parts)


def ratio(name: str, peer: dict, ours: dict) -> str:
    """Peer over ours, in wall time and in CPU seconds: on a shared machine only the second is steady."""
    return f"  {name}: {peer['wall_s'] / ours['wall_s']:.1f}x wall, {peer['cpu_s'] / ours['cpu_s']:.1f}x CPU"


def nsys_rows(work: Path, copies: int, skip_peers: bool) -> None:
    tiled = nsys_tile(work, copies)
    print(f"\n== H100 FastVideo x{copies} ({tiled.stat().st_size / 1e6:,.0f} MB SQLite)")
    print(f"  {'run':44s} {'wall':>9s} {'CPU':>10s} {'peak RSS':>9s}")
    stats = analyze = nsys_ai = None
    nsys = shutil.which("nsys")
    if not skip_peers and nsys:
        rep = work / f"nsys-x{copies}"
        rep.mkdir(exist_ok=True)
        stats = timed_tree(
            [nsys, "stats", "--format", "csv", "--force-overwrite", "true", "-o", str(rep / "s"), str(tiled)]
        )
        analyze = timed_tree(
            [nsys, "analyze", "-r", NSYS_RULES, "--format", "csv", "--force-overwrite", "true", "-o", str(rep / "r"),
             str(tiled)]
        )  # fmt: skip
    print(line("nsys stats (default reports)", stats, "nsys not installed" if not nsys else "skipped"))
    print(line("nsys analyze (6 rules)", analyze, "nsys not installed" if not nsys else "skipped"))
    if stats and analyze:
        both = {k: stats[k] + analyze[k] for k in ("wall_s", "cpu_s")} | {
            "rss_mb": max(stats["rss_mb"], analyze["rss_mb"])
        }
        print(line("nsys stats + nsys analyze", both))
    ai = shutil.which("nsys-ai")
    if not skip_peers and ai:
        nsys_ai = timed_tree([ai, "analyze", str(tiled)])
    print(line("nsys-ai analyze", nsys_ai, "nsys-ai not installed" if not ai else "skipped"))
    cold, warm, terminal, changed = inferscope_cold_warm(tiled, work, f"nsys-x{copies}")
    print(line("inferscope analyze, cold (convert + analyse)", cold))
    print(line("inferscope analyze, warm (cache present)", warm))
    warm_lines(terminal, changed)
    if stats and analyze:
        print(ratio("nsys stats + analyze / inferscope cold", both, cold))
        print(ratio("nsys stats + analyze / inferscope warm", both, warm))
    if nsys_ai:
        print(ratio("nsys-ai / inferscope cold", nsys_ai, cold))
    print(verdict(f"nsys x{copies}", cold, warm))


def kineto_rows(work: Path, copies: int, skip_peers: bool) -> None:
    tiled = kineto_tile(work, copies)
    print(f"\n== V100 Kineto x{copies} ({tiled.stat().st_size / 2**20:,.0f} MiB gzip JSON)")
    print(f"  {'run':44s} {'wall':>9s} {'CPU':>10s} {'peak RSS':>9s}")
    hta = None
    try:
        import hta as _hta  # noqa: F401

        have_hta = True
    except ImportError:
        have_hta = False
    if have_hta and not skip_peers:
        hta = timed_tree([sys.executable, str(HERE / "bench_kineto.py"), "--phase", "hta", str(tiled)], repo_env())
    print(line("HTA (load + temporal, kernel, idle)", hta, "HTA not installed" if not have_hta else "skipped"))
    cold, warm, terminal, changed = inferscope_cold_warm(tiled, work, f"kineto-x{copies}")
    print(line("inferscope analyze, cold", cold))
    print(line("inferscope analyze, warm", warm))
    warm_lines(terminal, changed)
    if hta:
        print(ratio("HTA / inferscope cold", hta, cold))
        print(ratio("HTA / inferscope warm", hta, warm))
    print(verdict("kineto x23", cold, warm) if copies == 23 else "")


def small_rows(work: Path) -> None:
    print("\n== small traces (inferscope analyze only)")
    print(f"  {'run':44s} {'wall':>9s} {'CPU':>10s} {'peak RSS':>9s}")
    for path in SMALL:
        if not path.exists():
            print(line(path.name, None, "not found"))
            continue
        cold, warm, terminal, changed = inferscope_cold_warm(path, work, path.name.split(".")[0])
        print(line(f"{path.name}, cold", cold))
        print(line(f"{path.name}, warm", warm))
        warm_lines(terminal, changed)
        print(verdict("small", cold, warm))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None, help="folder for tiles, caches and outputs (default: temp)")
    ap.add_argument("--x3000", action="store_true", help="also the x3000 tile (10.3M kernels; needs >10 GB)")
    ap.add_argument("--kineto-copies", type=int, default=23)
    ap.add_argument("--skip-peers", action="store_true", help="InferScope only (no nsys, nsys-ai, HTA)")
    ap.add_argument("--only", choices=("nsys", "kineto", "small"), action="append", help="only these rows")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-side-"))
    work.mkdir(parents=True, exist_ok=True)
    only = set(args.only or ("nsys", "kineto", "small"))
    compile_checkout()
    print(
        f"machine: {os.cpu_count()} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"load average before the runs {os.getloadavg()[0]:.1f}; work folder {work}"
    )
    if "nsys" in only:
        nsys_rows(work, 300, args.skip_peers)
        if args.x3000:
            nsys_rows(work, 3000, args.skip_peers)
    if "kineto" in only:
        kineto_rows(work, args.kineto_copies, args.skip_peers)
    if "small" in only:
        small_rows(work)
    print(f"\nload average after the runs {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
