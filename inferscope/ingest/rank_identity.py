"""Which rank of which job a trace is, read from the trace itself, and whether a set of traces is one job.

A fleet analysis (issue 23) lines ranks up by rank number; a wrong number or a trace of another job would silently
pair the wrong collectives, so every rank says where its number came from, and a set that cannot be one job is
refused before any cross-rank figure is computed.

Sources, first found wins (the `source` field names it):
  1. Kineto `distributedInfo` (`rank`, `world_size`, `backend`), which the converter keeps in trace_meta;
  2. the process environment recorded by nsys or a bundle (`env.RANK`, `env.OMPI_COMM_WORLD_RANK`,
     `env.PMI_RANK`, `env.SLURM_PROCID`; `LOCAL_RANK` and the matching world-size variables beside them);
  3. the recorded command line (`--rank N`, `--local-rank N`, `--world-size N`, `=` or space);
  4. the file name (`rank3`, `rank_3`, `worker3`), the fallback that knows no world size.

Works on the trace_meta dictionary (`Trace.meta`) so that it reads nothing the conversion has not already read.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import TraceInputError

# (rank variable, world-size variable, local-rank variable) per launcher, most specific first
_ENV_SETS = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "PMI_LOCAL_RANK"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
)
# Variables that name one run of a job: two traces that disagree on one of them are from different runs.
_JOB_VARS = (
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "SLURM_JOBID",
    "MASTER_ADDR",
    "MASTER_PORT",
    "OMPI_MCA_orte_hnp_uri",
)
_ARG = r"(?:^|\s)--{name}(?:=|\s+)(\d+)"
_NAME = re.compile(r"(?:rank|worker)[-_.]?(\d+)", re.I)


@dataclass(frozen=True)
class RankIdentity:
    """One trace's place in its job. `source` says where `rank` was read: distributedInfo, env:VAR,
    command line, or file name."""

    rank: int
    source: str
    world_size: int | None = None
    local_rank: int | None = None
    backend: str | None = None
    job: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["job"] = dict(self.job)
        return out


def _int(value) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _from_command(command: str, name: str) -> int | None:
    for spelling in (name, name.replace("-", "_")):
        m = re.search(_ARG.format(name=re.escape(spelling)), command)
        if m:
            return int(m.group(1))
    return None


def identify(meta: dict[str, str], path: Path) -> RankIdentity | None:
    """The rank identity of the trace at `path` whose trace_meta is `meta`, or None when nothing names a rank."""
    job = tuple((v, meta[f"env.{v}"]) for v in _JOB_VARS if meta.get(f"env.{v}"))
    backend = meta.get("distributed_backend")
    if _int(meta.get("rank")) is not None:
        return RankIdentity(_int(meta["rank"]), "distributedInfo", _int(meta.get("world_size")), None, backend, job)
    for rank_var, size_var, local_var in _ENV_SETS:
        rank = _int(meta.get(f"env.{rank_var}"))
        if rank is not None:
            return RankIdentity(
                rank,
                f"env:{rank_var}",
                _int(meta.get(f"env.{size_var}")),
                _int(meta.get(f"env.{local_var}")),
                backend,
                job,
            )
    command = meta.get("command") or ""
    rank = _from_command(command, "rank")
    if rank is not None:
        size = _from_command(command, "world-size")
        return RankIdentity(rank, "command line", size, _from_command(command, "local-rank"), backend, job)
    m = _NAME.search(path.name)
    if m:
        return RankIdentity(int(m.group(1)), "file name", None, None, backend, job)
    return None


def check_one_job(identities: dict[str, RankIdentity | None], partial: bool = False) -> None:
    """Raise TraceInputError (one line) unless `identities` ({trace path: identity}) can be ranks of one job:
    every trace names a rank, no rank twice, one world size and backend, the same run variables, and no rank at
    or beyond the world size. `partial`: these are some of the set's traces (those known before conversion), so
    none may lack an identity and the check is of what they say among themselves."""
    if partial:
        identities = {p: ident for p, ident in identities.items() if ident is not None}
    missing = [p for p, ident in identities.items() if ident is None]
    if missing:
        raise TraceInputError(
            f"{missing[0]}: names no rank (no distributedInfo, RANK-style variable, --rank argument or "
            "rank/worker number in the file name); a fleet needs one trace per rank"
        )
    seen: dict[int, str] = {}
    for path, ident in identities.items():
        if ident.rank in seen:
            raise TraceInputError(
                f"{seen[ident.rank]} and {path} are both rank {ident.rank}; a fleet takes one trace per rank of one job"
            )
        seen[ident.rank] = path
    for field, label in (("world_size", "world sizes"), ("backend", "backends")):
        values = {getattr(i, field) for i in identities.values() if getattr(i, field) is not None}
        if len(values) > 1:
            shown = ", ".join(str(v) for v in sorted(values))
            raise TraceInputError(f"these traces are from different jobs ({label} {shown}); give the ranks of one job")
    jobs = {i.job for i in identities.values() if i.job}
    if len(jobs) > 1:
        names = sorted({k for job in jobs for k, _ in job})
        raise TraceInputError(
            f"these traces are from different jobs (they differ in {', '.join(names)}); give the ranks of one job"
        )
    sizes = {i.world_size for i in identities.values() if i.world_size is not None}
    if sizes:
        (size,) = sizes
        beyond = sorted(r for r in seen if r >= size or r < 0)
        if beyond:
            raise TraceInputError(f"{seen[beyond[0]]}: rank {beyond[0]} is outside world size {size}")


_DISTRIBUTED_INFO = re.compile(rb'"distributedInfo"\s*:\s*(\{[^{}]*\})')
PEEK_BYTES = 1 << 20


def peek(path: Path) -> RankIdentity | None:
    """The rank identity a Kineto file's `distributedInfo` gives, read from the first MiB of the document (PyTorch
    writes it before the events), or None when the file is not such a trace or it is not there. A fleet checks
    these before converting anything, so that a mixed set is refused in seconds rather than after every rank was
    converted; traces whose identity needs the conversion (nsys, bundles, file names) are checked after it."""
    import gzip
    import json
    import zlib

    if path.is_dir() or not path.name.endswith((".json", ".json.gz")):
        return None
    try:
        with path.open("rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            stream = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
            data = stream.read(PEEK_BYTES)
    except (OSError, EOFError, zlib.error):
        return None  # the per-rank task reads it properly and says what is wrong
    m = _DISTRIBUTED_INFO.search(data)
    if not m:
        return None
    try:
        info = json.loads(m.group(1))
    except ValueError:
        return None
    meta = {"rank": info.get("rank"), "world_size": info.get("world_size")}
    if isinstance(info.get("backend"), str):
        meta["distributed_backend"] = info["backend"]
    ident = identify({k: str(v) for k, v in meta.items() if v is not None}, path)
    return ident if ident is not None and ident.source == "distributedInfo" else None
