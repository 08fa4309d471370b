"""analyze_fleet: the whole fleet run, from the paths the user gave to a FleetResult.

Map: every rank trace is one Dask task (rank_task.run_rank) that reads it by path on a worker. The client only
collects the small results as they finish, printing one progress line per rank, refuses a set that is not one
job, and hands the readable ranks to the reduce.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..engine.cache_root import resolve_root
from ..errors import TraceInputError
from ..ingest.rank_identity import RankIdentity, check_one_job
from .cluster import _dask, check_shared_cache, connect, default_workers
from .inputs import expand_inputs
from .rank_task import peek_rank, run_rank
from .reduce import reduce
from .result import FleetResult


def _identity(d: dict | None) -> RankIdentity | None:
    if d is None:
        return None
    return RankIdentity(**{**d, "job": tuple(sorted(d.get("job", {}).items()))})


def map_ranks(
    paths: list[Path], root: Path, scheduler: str | None, workers: int | None, say: Callable[[str], None]
) -> list[dict]:
    """run_rank of every path on the cluster, in the order of `paths`; progress through `say`."""
    as_completed = _dask().as_completed  # FleetError with the install hint where Dask is missing

    results: dict[str, dict] = {}
    with connect(scheduler, workers or default_workers(len(paths))) as client:
        if scheduler is not None:
            check_shared_cache(client, root)
        started = time.monotonic()
        names = [str(p.resolve()) for p in paths]
        shown = dict(zip(names, paths))
        # first pass: identities that need no conversion, so that a mixed set is refused before any is converted
        peeked = dict(zip(names, client.gather(client.map(peek_rank, names, pure=False))))
        check_one_job({str(shown[n]): _identity(d) for n, d in peeked.items() if d is not None}, partial=True)
        futures = client.map(run_rank, names, cache_root=str(root), pure=False)
        by_key = {f.key: n for f, n in zip(futures, names)}
        for done, future in enumerate(as_completed(futures), 1):
            name = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:  # the worker died (memory, a crash): that rank is lost, the rest go on
                result = {"path": name, "ok": False, "error": f"its Dask task failed ({type(exc).__name__}: {exc})"}
            result["shown"] = str(shown[name])
            results[name] = result
            if result["ok"]:
                ident = result.get("identity") or {}
                rank = f"rank {ident['rank']}" if ident else "no rank"
                say(
                    f"{rank} ({shown[name].name}, from {ident.get('source', '-')}): ready in "
                    f"{result['seconds']:.1f} s [{done}/{len(paths)}, {time.monotonic() - started:.1f} s]"
                )
            else:
                error = result["error"]
                for prefix in (f"{name}: ", f"{shown[name]}: "):  # ingest errors name the file already
                    error = error[len(prefix) :] if error.startswith(prefix) else error
                result["error"] = error
                say(f"warning: {shown[name]}: {error}; the other ranks are analysed without it")
    return [results[n] for n in names]


def analyze_fleet(
    traces: list[str | Path],
    *,
    cache_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> FleetResult:
    """Analyse the rank traces `traces` (files, directories of rank traces, globs) as one job.

    Each rank runs as a Dask task on a LocalCluster of `workers` processes, or on the cluster at `scheduler`
    (whose workers must see the traces and `cache_dir` at the same paths; the cache is checked before any rank
    runs). Raises TraceInputError for a set that is not one job or has no readable rank, FleetError when the
    cluster cannot run it."""
    say = progress or (lambda _msg: None)
    paths = expand_inputs(list(traces))
    root = resolve_root(cache_dir).expanduser().resolve()
    results = map_ranks(paths, root, scheduler, workers, say)
    good = [r for r in results if r["ok"]]
    failures = [{"path": r["shown"], "error": r["error"]} for r in results if not r["ok"]]
    if not good:
        raise TraceInputError(f"none of the {len(paths)} rank traces could be read (first: {failures[0]['error']})")
    check_one_job({r["shown"]: _identity(r["identity"]) for r in good})
    return reduce(good, failures)
