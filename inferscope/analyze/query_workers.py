"""Independent analysis queries (the metric files, the rules) run on several DuckDB connections at once.

Why: DuckDB plans a statement on the thread that submits it, and on a small trace a rule or metric file is mostly
planning over the views it reads (10 - 40 ms each). The 28 rules and 14 metric files ran one after another on one
core while the other waited: on the H200 eager decode trace they took 0.55 s of a 2.6 s cold analysis. A large
trace gains too where a query's plan runs on fewer threads than there are cores.

Each task runs whole on one connection and the results come back in task order, so the analysis does not depend on
which connection took which task or finished first. The connections are the engine's own and its workers
(`Engine.worker`), which read the same catalog, the same materialised tables and the same variables. Views are
created beforehand on the engine's connection, one after another: creating one is a catalog write, and the
workers only read.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

# More connections than this plan nothing faster on a small trace and, on a large one, each holds its own hash
# tables under the one memory limit.
MAX_CONNECTIONS = 4


def connections_for(engine) -> int:
    """How many connections the analysis queries use: one per DuckDB thread, at most MAX_CONNECTIONS."""
    threads = engine.raw.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return max(1, min(MAX_CONNECTIONS, int(threads)))


def run(engine, tasks: Sequence[Callable], statements: Sequence[str] = (), connections: int | None = None) -> list:
    """`task(con)` for each task, on up to `connections` connections (default: `connections_for`); the results in
    task order. `statements`: the SQL the tasks will run, whose views are created first. The first exception a
    task raises stops the others from starting a new task, and is raised once the running ones have ended."""
    for sql in statements:
        engine.prepare(sql)
    wanted = connections_for(engine) if connections is None else connections
    cons = [engine.raw]
    workers = []
    try:
        while len(cons) < min(wanted, len(tasks)):
            worker = engine.worker()
            if worker is None:  # a temporary table, which only the engine's own connection reads
                break
            workers.append(worker)
            cons.append(worker)
        if len(cons) == 1:
            return [task(engine.raw) for task in tasks]
        return _spread(tasks, cons)
    finally:
        for worker in workers:
            worker.close()


def _spread(tasks: Sequence[Callable], cons: list) -> list:
    results: list = [None] * len(tasks)
    failures: list[BaseException] = []
    lock = threading.Lock()
    upcoming = iter(range(len(tasks)))

    def take() -> int | None:
        with lock:
            if failures:
                return None
            return next(upcoming, None)

    def serve(con) -> None:
        while (i := take()) is not None:
            try:
                results[i] = tasks[i](con)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, whatever it is
                with lock:
                    failures.append(exc)
                    first = len(failures) == 1
                if first:  # out of memory, a closed database, Ctrl-C: end the other statements under way too
                    for other in cons:
                        if other is not con:
                            other.interrupt()
                return

    threads = [threading.Thread(target=serve, args=(c,), name=f"inferscope-query-{n}") for n, c in enumerate(cons[1:])]
    for t in threads:
        t.start()
    try:
        serve(cons[0])
    finally:
        for t in threads:
            t.join()
    if failures:
        raise failures[0]
    return results
