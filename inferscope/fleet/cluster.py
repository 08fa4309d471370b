"""The Dask cluster a fleet runs on: a LocalCluster of worker processes by default, or an existing cluster's
scheduler (`--scheduler ADDRESS`).

Workers read traces and write the cache by path, so on an existing cluster the cache directory must be storage
every worker shares with this client. That is checked before any rank runs: the client writes a token file into
the cache directory and every worker must read it back. A cache on a worker's local disk would otherwise fail
late, rank by rank, or worse, seem to work while the reduce here reads nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InferScopeError

INSTALL_HINT = "pip install 'inferscope[fleet]'"
WORKER_WAIT_S = 30
# A scheduler address is tried with one plain TCP connection first: Dask's own connect retries until its timeout,
# so a typo in the address (nothing listening, an unknown host) cost the full WORKER_WAIT_S before the error.
PROBE_S = 5


class FleetError(InferScopeError):
    """The fleet cannot run: Dask is missing, the scheduler is unreachable, or the cache is not shared."""


def _dask():
    try:
        from dask import distributed
    except ImportError as exc:
        raise FleetError(f"analysing several ranks needs Dask, which is not installed: {INSTALL_HINT}") from exc
    return distributed


def default_workers(ranks: int) -> int:
    """One worker process per core, at most 4, never more than there are ranks: conversion is CPU-bound and
    each worker holds one rank's trace in memory at a time."""
    return max(1, min(ranks, os.cpu_count() or 1, 4))


@contextmanager
def connect(scheduler: str | None, workers: int) -> Iterator:
    """A connected dask.distributed Client: to `scheduler`, or to a LocalCluster of `workers` processes that is
    shut down on exit."""
    distributed = _dask()
    for name in ("distributed", "distributed.scheduler", "distributed.worker", "distributed.nanny"):
        logging.getLogger(name).setLevel(logging.ERROR)  # the cluster's chatter is not the user's progress
    if scheduler is not None:
        _probe(distributed, scheduler)
        client = _client(distributed, scheduler)
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError as exc:
                raise FleetError(f"the Dask scheduler at {scheduler} has no workers after {WORKER_WAIT_S} s") from exc
            yield client
        finally:
            client.close()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "port 8787 is in use, using another": not the user's concern
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two fleets at once must not fight over 8787
            # worker processes log on their own; at shutdown they report the scheduler gone (a heartbeat error
            # with a traceback), which is how a LocalCluster ends, not a problem of the run
            silence_logs=logging.CRITICAL,
        )
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _client(distributed, scheduler: str):
    """distributed.Client(scheduler), given up after WORKER_WAIT_S: Dask bounds the connection by its timeout but
    not the handshake read that follows, so a service that accepts the connection and never answers (an HTTP
    server reading a request line) held the command forever. The abandoned attempt stays on a daemon thread.
    Every way it fails is a FleetError of one line."""
    out: list = []

    def start() -> None:
        try:
            out.append(distributed.Client(scheduler, timeout=f"{WORKER_WAIT_S}s"))
        except BaseException as exc:  # raised in the caller
            out.append(exc)

    thread = threading.Thread(target=start, name="inferscope-dask-connect", daemon=True)
    thread.start()
    thread.join(WORKER_WAIT_S + PROBE_S)
    if not out:
        raise FleetError(
            f"{scheduler} accepted the connection but did not answer as a Dask scheduler within {WORKER_WAIT_S} s; "
            "pass the scheduler's own address (port 8786 by default; 8787 is its dashboard)"
        )
    got = out[0]
    if isinstance(got, (OSError, TimeoutError)):
        raise FleetError(f"cannot reach the Dask scheduler at {scheduler} ({got})") from got
    if isinstance(got, Exception):  # something else listens there: Dask misreads its bytes (MemoryError, ValueError...)
        raise FleetError(
            f"{scheduler} answers, but not as a Dask scheduler ({type(got).__name__}); pass the scheduler's own "
            "address (port 8786 by default; 8787 is its dashboard)"
        ) from got
    if isinstance(got, BaseException):  # KeyboardInterrupt and the like: not the address's fault
        raise got
    return got


def _probe(distributed, scheduler: str) -> None:
    """Raise FleetError at once when nothing answers at a tcp:// or tls:// scheduler address; other schemes, and
    addresses Dask would read differently, are left to Dask."""
    try:
        scheme, location = distributed.comm.parse_address(scheduler)
        if scheme not in ("tcp", "tls"):
            return
        host, port = distributed.comm.addressing.parse_host_port(location, 8786)
    except (ValueError, TypeError):
        return
    try:
        socket.create_connection((host, port), timeout=PROBE_S).close()
    except socket.gaierror:
        why = f"unknown host {host!r}"
    except TimeoutError:
        why = f"no answer from {host}:{port} within {PROBE_S} s"
    except OSError as exc:
        why = exc.strerror or str(exc)
    else:
        return
    raise FleetError(
        f"cannot reach the Dask scheduler at {scheduler} ({why}); check the address and that the scheduler is running"
    )


def _reads_token(path: str, token: str) -> str | None:
    """Run on each worker: None when it reads `token` at `path`, else what it saw."""
    try:
        with open(path, encoding="utf-8") as fh:
            seen = fh.read()
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    return None if seen == token else "finds a different file there"


def check_shared_cache(client, root: Path) -> None:
    """Raise FleetError unless every worker of `client` sees `root` as this client does."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FleetError(f"cannot create the cache directory {root} ({exc.strerror or exc})") from exc
    token = secrets.token_hex(16)
    probe = root / f".fleet-probe-{token[:12]}"
    try:
        probe.write_text(token, encoding="utf-8")
    except OSError as exc:
        raise FleetError(f"cannot write the cache directory {root} ({exc.strerror or exc})") from exc
    try:
        answers = client.run(_reads_token, str(probe), token)
    finally:
        probe.unlink(missing_ok=True)
    bad = sorted((worker, why) for worker, why in answers.items() if why is not None)
    if bad:
        worker, why = bad[0]
        raise FleetError(
            f"the cache directory {root} is not shared with the Dask workers (worker {worker} {why}); "
            "pass --cache-dir on storage every worker mounts at the same path"
        )
