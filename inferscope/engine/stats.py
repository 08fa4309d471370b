"""`inferscope stats`: the nsys stats summary reports, each computed by one SQL file in sql/stats/.

Report names are the current nsys names; the nsys 2022.4 names are accepted as aliases so scripts written for
either keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ..errors import QueryError
from ..resources import sql_dir

if TYPE_CHECKING:  # the report names are read by `stats --help`, which must not load DuckDB
    import pyarrow as pa

    from .core import Rows

ALIASES = {
    "cudaapisum": "cuda_api_sum",
    "gpukernsum": "cuda_gpu_kern_sum",
    "gpumemtimesum": "cuda_gpu_mem_time_sum",
    "gpumemsizesum": "cuda_gpu_mem_size_sum",
    "nvtxsum": "nvtx_sum",
    "osrtsum": "osrt_sum",
    "kernexecsum": "cuda_kern_exec_sum",
}

DEFAULT_REPORTS = (
    "cuda_api_sum",
    "cuda_gpu_kern_sum",
    "cuda_gpu_mem_time_sum",
    "cuda_gpu_mem_size_sum",
    "nvtx_sum",
    "osrt_sum",
    "cuda_kern_exec_sum",
)


def available() -> list[str]:
    return sorted(p.stem for p in (sql_dir() / "stats").glob("*.sql"))


def resolve(name: str) -> str:
    canonical = ALIASES.get(name, name)
    if canonical not in available():
        raise QueryError(
            f"unknown report {name!r}; choose from {', '.join(available())} "
            f"(2022.4 names {', '.join(sorted(ALIASES))} also work)"
        )
    return canonical


def report_sql(name: str) -> str:
    return (sql_dir() / "stats" / f"{resolve(name)}.sql").read_text(encoding="utf-8")


@dataclass
class StatsResult:
    """One report's rows. Column names carry their unit, as nsys's CSV headers do ("Total Time (ns)")."""

    report: str
    result: "Rows"

    @property
    def columns(self) -> list[str]:
        return self.result.column_names

    @cached_property
    def table(self) -> "pa.Table":
        return self.result.to_arrow()

    def df(self):
        return self.table.to_pandas()

    def rows(self) -> list[dict]:
        return self.result.to_pylist()
