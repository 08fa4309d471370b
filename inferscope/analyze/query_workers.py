"""The analysis's SQL on several DuckDB connections at once: the derived tables (`materialize`), each as soon as
the tables it reads stand, and then the metric files and rules (`run`).

Why: DuckDB plans a statement on the thread that submits it, and on a small trace a derived table, a metric file or
a rule is mostly planning over the views it reads (10 - 40 ms each). 23 derived tables, 14 metric files and 28 rules
ran one after another on one core while the other waited. On the H200 eager decode trace (2 cores) the analysis
took 1.64 s on one connection and 1.27 s on two (medians of 9). On a 1M-kernel trace each statement already keeps
every core busy, and the wall time is the same either way.

Each task runs whole on one connection and the results come back in task order, so the analysis does not depend on
which connection took which task or finished first. The connections are the engine's own and its workers
(`Engine.worker`), which read the same catalog, the same materialised tables and the same variables. A failure
(out of memory, a closed database, Ctrl-C) stops the others from starting anything and interrupts what they run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

# More connections than this plan nothing faster on a small trace.
MAX_CONNECTIONS = 4
# Kernels, API calls and annotation ranges beyond which one connection does the work: each statement's execution,
# which DuckDB spreads over every core itself, then outweighs its planning. Measured on 2 cores, analysis alone:
# the 5M-event Kineto tile (2.8M such rows) took 9.5 - 9.8 s on two connections against 11.2 - 11.6 s on one, at
# the same CPU; the 1M-kernel nsys tile (7.8M rows) 16.9 - 17.5 s against 17.2 - 18.0 s, for 2 - 3 s more CPU
# and 30 - 40 MB more memory.
LARGE_ROWS = 5_000_000


def connections_for(engine) -> int:
    """How many connections the analysis queries use: one per DuckDB thread, at most MAX_CONNECTIONS; one for a
    trace of more than LARGE_ROWS kernels, API calls and annotation ranges."""
    threads = engine.raw.execute("SELECT current_setting('threads')").fetchall()[0][0]
    if int(threads) <= 1:
        return 1
    rows = engine.raw.execute(
        "SELECT (SELECT count(*) FROM kernels) + (SELECT count(*) FROM api_calls) + (SELECT count(*) FROM nvtx_ranges)"
    ).fetchall()[0][0]
    return 1 if rows > LARGE_ROWS else min(MAX_CONNECTIONS, int(threads))


def run(engine, tasks: Sequence[Callable], statements: Sequence[str] = (), connections: int | None = None) -> list:
    """`task(con)` for each task, on up to `connections` connections (default: `connections_for`); the results in
    task order. `statements`: the SQL the tasks will run, whose views are created first. Independent jobs that
    make no table (`materialize`), so a failure ends them as it ends the tables."""
    for sql in statements:
        engine.prepare(sql)
    results: list = [None] * len(tasks)

    def job(i: int) -> Job:
        def make(con) -> bool:
            results[i] = tasks[i](con)
            return False

        return Job(f"task {i}", make)

    _schedule(engine, [job(i) for i in range(len(tasks))], connections)
    return results


@dataclass
class Job:
    """One piece of work, usually a table to materialise: `make(con)` does it on `con` and says whether it made
    DERIVED.`name` (False: nothing to show, or the view stays the definition); it runs once every job named in
    `after` has ended. `own`: only on the engine's connection (a job that registers data or makes temporary
    tables on it)."""

    name: str
    make: Callable
    after: frozenset[str] = frozenset()
    own: bool = False


def materialize(engine, jobs: Sequence[Job], connections: int | None = None) -> None:
    """Run `jobs` (listed in an order that respects `after`) on up to `connections` connections (default:
    `connections_for`), each as soon as what it reads exists. Before a connection starts a job it gets a temporary
    view over every table made so far (the engine's own connection gets them all at the end), so a job reads its
    inputs' tables, never their views. The first exception a job raises stops the others from starting one,
    interrupts the statements under way, and is raised once they have ended."""
    _schedule(engine, jobs, connections)


def _schedule(engine, jobs: Sequence[Job], connections: int | None) -> None:
    if not jobs:
        return
    wanted = connections_for(engine) if connections is None else connections
    workers = []
    try:
        while len(workers) + 1 < min(wanted, len(jobs)):
            worker = engine.worker()
            if worker is None:
                break
            workers.append(worker)
        _Graph(engine, jobs, [engine.raw, *workers]).run()
    finally:
        for worker in workers:
            worker.close()


class _Graph:
    def __init__(self, engine, jobs: Sequence[Job], cons: list):
        names = {job.name for job in jobs}
        self.engine, self.cons = engine, cons
        # not yet started, in the given order; waiting only on jobs of this run (the rest exist already)
        self.pending = [Job(j.name, j.make, j.after & names, j.own) for j in jobs]
        self.ended: set[str] = set()
        self.made: list[str] = []  # tables made, in the order they were made
        self.failures: list[BaseException] = []
        self.cond = threading.Condition()

    def run(self) -> None:
        threads = [
            threading.Thread(target=self.serve, args=(c,), name=f"inferscope-sql-{n}")
            for n, c in enumerate(self.cons[1:])
        ]
        for t in threads:
            t.start()
        try:
            self.serve(self.cons[0])
        except BaseException as exc:  # outside a job (Ctrl-C while waiting): the others would wait for ever
            self.fail(exc, self.cons[0])
        finally:
            for t in threads:
                t.join()
        if self.failures:
            raise self.failures[0]
        self.show(self.cons[0], set())

    def fail(self, exc: BaseException, con) -> None:
        """Record `exc`, wake every waiting connection so that it stops, and end the statements under way."""
        with self.cond:
            self.failures.append(exc)
            first = len(self.failures) == 1
            self.cond.notify_all()
        if first:  # out of memory, a closed database, Ctrl-C
            for other in self.cons:
                if other is not con:
                    other.interrupt()

    def take(self, con) -> Job | None:
        own = con is self.cons[0]
        with self.cond:
            while True:
                if self.failures or not self.pending:
                    return None
                for job in self.pending:
                    if (own or not job.own) and job.after <= self.ended:
                        self.pending.remove(job)
                        return job
                if not own and all(job.own for job in self.pending):
                    return None  # what is left is the engine connection's alone
                self.cond.wait()

    def show(self, con, shown: set[str]) -> None:
        """Temporary views on `con` over the tables made so far that it does not show yet."""
        with self.cond:
            made = [n for n in self.made if n not in shown]
        for name in made:
            self.engine.show_table(name, con)
            shown.add(name)

    def serve(self, con) -> None:
        shown: set[str] = set()
        while (job := self.take(con)) is not None:
            try:
                self.show(con, shown)
                made = job.make(con)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, whatever it is
                self.fail(exc, con)
                return
            with self.cond:
                self.ended.add(job.name)
                if made:
                    self.made.append(job.name)
                self.cond.notify_all()
