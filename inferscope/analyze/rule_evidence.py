"""A rule's evidence rows cut down to what its findings keep, in Arrow or, for a rule that returns very many rows,
in DuckDB.

A finding needs of its group of rows: the count, the impact, the sum/max/min/avg of each numeric column (for the
summary's template), the one device, process and thread if there is one, the severities the rows give, its first
MAX_WINDOWS time windows and its first MAX_EVIDENCE_KEPT rows, all in evidence order (`result.evidence_order`).
Rules usually return tens to thousands of rows, which are grouped in Arrow (`arrow_groups`). A loose parameter on a
long trace returns millions: `gpu_gaps.gap_ns=1000` on the 10M-kernel tiled export lists 11M gaps, and holding,
sorting and grouping them in Arrow took the process from 1.9 GB to 4.6 GB, past DuckDB's memory cap, which does
not see Arrow memory. Past EVIDENCE_IN_MEMORY rows the evidence therefore stays in tables of the rule's DuckDB connection (under
the cap, spilled to disk when it must be) and only the groups' figures and first rows come out (`StoredEvidence`).
Both give the same findings (tests/test_rule_evidence.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .result import SEVERITIES, evidence_sortable, evidence_order

# A rule returning more rows than this keeps them in DuckDB (module docstring). At this size the Arrow path holds
# a few tens of MB; the largest built-in rule output on the shared traces at default parameters is 2,400 rows.
EVIDENCE_IN_MEMORY = 200_000

IDS = ("device_id", "pid", "tid")  # a finding names the one GPU, process or thread its rows share


@dataclass
class Group:
    """What a finding is made of: one group of a rule's evidence rows (rules.py's group_by)."""

    rows: pa.Table  # its first rows in evidence order (all of them on the Arrow path)
    n: int  # how many rows the group has
    impact: int  # the sum of their impact_ns
    numbers: dict[str, Any]  # sum_/max_/min_/avg_<column> of each numeric column
    ids: dict[str, Any]  # device_id, pid, tid: the value all rows share, else None
    severities: list[str]  # the severities the rows give (a `severity` column), in no order
    windows: list[tuple[int, int]]  # the first timed rows' (start_ns, end_ns), sorted


def prepared(table: pa.Table) -> pa.Table:
    """The rule's rows with impact_ns as int64 and 0 for NULL, the form every figure is taken from."""
    impact = pc.fill_null(table.column("impact_ns").cast(pa.int64()), 0)
    return table.set_column(table.column_names.index("impact_ns"), "impact_ns", impact)


def arrow_groups(table: pa.Table, keys: list[str], max_windows: int) -> list[Group]:
    """The groups of `table` (prepared) by `keys`, in order of first appearance in evidence order; none when it
    has no rows."""
    if table.num_rows == 0:
        return []
    table = evidence_order(table)  # a total order before any cut-off: tied rows must not depend on DuckDB's threads
    if not keys:
        parts = [list(range(table.num_rows))]
    else:
        found: dict[tuple, list[int]] = {}
        columns = [table.column(k).to_pylist() for k in keys]
        for i, key in enumerate(zip(*columns)):
            found.setdefault(tuple(None if v != v else v for v in key), []).append(i)  # NaN is one key, as NULL
        parts = list(found.values())
    return [_facts(table.take(pa.array(idx, pa.int64())), max_windows) for idx in parts]


def _facts(rows: pa.Table, max_windows: int) -> Group:
    names = rows.column_names
    numbers: dict[str, Any] = {}
    for name in names:
        col = rows.column(name)
        if _numeric(col.type):
            col = col.cast(pa.float64()) if pa.types.is_decimal(col.type) else col
            numbers[f"sum_{name}"] = pc.sum(col).as_py()
            numbers[f"max_{name}"] = pc.max(col).as_py()
            numbers[f"min_{name}"] = pc.min(col).as_py()
            numbers[f"avg_{name}"] = pc.mean(col).as_py()
    ids = {}
    for name in IDS:
        vals = set(rows.column(name).to_pylist()) if name in names else {None}
        ids[name] = next(iter(vals)) if len(vals) == 1 else None
    windows: list[tuple[int, int]] = []
    if "start_ns" in names and "end_ns" in names:
        pairs = (
            (s, e)
            for s, e in zip(rows.column("start_ns").to_pylist(), rows.column("end_ns").to_pylist())
            if s is not None and e is not None
        )
        windows = sorted((int(s), int(e)) for s, e in itertools.islice(pairs, max_windows))
    return Group(
        rows=rows,
        n=rows.num_rows,
        impact=int(pc.sum(rows.column("impact_ns")).as_py() or 0),
        numbers=numbers,
        ids=ids,
        severities=[s for s in rows.column("severity").to_pylist() if s in SEVERITIES] if "severity" in names else [],
        windows=windows,
    )


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None, at_most: int) -> pa.Table | None:
    """The rule's rows in Arrow, or None when there are more than `at_most` (then nothing is kept)."""
    rel = con.sql(sql, params=params)
    to_reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader  # the name before DuckDB 1.5
    reader = to_reader(min(at_most + 1, 1 << 20))
    batches, rows = [], 0
    for batch in reader:
        rows += batch.num_rows
        if rows > at_most:
            reader.close()
            return None
        batches.append(batch)
    return pa.Table.from_batches(batches, reader.schema)


_SERIAL = itertools.count()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class StoredEvidence:
    """A rule's evidence kept in tables of the connection's database (dropped by `close`): the rows with a
    `_warm` flag for the steady-state split (rule_steady.py), then numbered per group (`_g`) and ranked within
    their group in evidence order (`_rn`). Every query over them returns at most `top` groups' worth of rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, params: dict | None, group_by, warm_sql=None):
        self.con = con
        self.name = f"_evidence_{next(_SERIAL)}"
        rel = con.sql(sql, params=params)  # a relation, not the text wrapped in more SQL: a user rule stays one query
        plain = []  # the Arrow path's _plain_numbers: DuckDB's HUGEINT sums and decimals as int64 / float64
        for col, typ in zip(rel.columns, (str(t) for t in rel.types)):
            if col == "impact_ns":
                plain.append(f"coalesce(CAST({_q(col)} AS BIGINT), 0) AS {_q(col)}")
            elif typ in ("HUGEINT", "UHUGEINT") or (typ.startswith("DECIMAL") and typ.endswith(",0)")):
                plain.append(f"CAST({_q(col)} AS BIGINT) AS {_q(col)}")
            elif typ.startswith("DECIMAL"):
                plain.append(f"CAST({_q(col)} AS DOUBLE) AS {_q(col)}")
            else:
                plain.append(_q(col))
        self.columns = list(rel.columns)
        self.keys = [k for k in group_by if k in self.columns]
        self.ranked = f"{self.name}_r"
        try:
            self._make(rel, plain, warm_sql(self.columns) if warm_sql else "FALSE")
        except BaseException:
            self.close()
            raise

    def _make(self, rel, plain: list[str], warm: str) -> None:
        con = self.con
        rel.project(", ".join([*plain, f"{warm} AS _warm"])).create(self.name)
        self.schema = con.sql(f"SELECT * EXCLUDE (_warm) FROM {self.name} LIMIT 0").to_arrow_table().schema
        self._order = ["impact_ns DESC NULLS LAST"] + [  # result.evidence_order in SQL
            f"{_q(f.name)} ASC NULLS LAST" for f in self.schema if f.name != "impact_ns" and evidence_sortable(f.type)
        ]
        part = [_q(k) for k in self.keys] + ["_warm"]
        same = " AND ".join(f"e.{p} IS NOT DISTINCT FROM g.{p}" for p in part)
        con.execute(
            f"CREATE TABLE {self.name}_g AS SELECT *, row_number() OVER () AS _g "
            f"FROM (SELECT DISTINCT {', '.join(part)} FROM {self.name})"
        )
        con.execute(
            f"CREATE TABLE {self.name}_r AS SELECT e.* EXCLUDE (_warm), g._g, e._warm, row_number() OVER "
            f"(PARTITION BY g._g ORDER BY {', '.join('e.' + o for o in self._order)}) AS _rn "
            f"FROM {self.name} e JOIN {self.name}_g g ON {same}"
        )
        for suffix in ("_g", ""):  # the ranked table holds every row: the rest is dropped now, not at close
            con.execute(f"DROP TABLE {self.name}{suffix}")
        self.num_rows = con.execute(f"SELECT count(*) FROM {self.ranked}").fetchall()[0][0]

    def warm_pids(self) -> dict:
        """Warm-up rows per pid (None for rows without one)."""
        pid = "pid" if "pid" in self.columns else "NULL"
        return dict(self.con.execute(f"SELECT {pid}, count(*) FROM {self.ranked} WHERE _warm GROUP BY 1").fetchall())

    def groups(self, warm: bool, top: int, max_windows: int, max_rows: int) -> list[Group]:
        """The `top` groups of the steady (or warm-up) rows by impact, ties in order of first appearance in
        evidence order, each with its figures over all its rows and its first `max_rows` rows."""
        r = self.ranked
        chosen = [
            g
            for (g,) in self.con.execute(
                f"SELECT _g FROM (SELECT f._g, a._impact, row_number() OVER "
                f"(ORDER BY {', '.join('f.' + o for o in self._order)}, f._g) AS _first FROM {r} f "
                f"JOIN (SELECT _g, sum(impact_ns) AS _impact FROM {r} WHERE _warm = {warm} GROUP BY _g) a "
                f"ON a._g = f._g WHERE f._rn = 1) ORDER BY _impact DESC, _first LIMIT {int(top)}"
            ).fetchall()
        ]
        if not chosen:
            return []
        wanted = ", ".join(str(int(g)) for g in chosen)
        cols = self.schema.names
        aggs = ["count(*)", "sum(impact_ns)"]  # sums of integers are HUGEINT, exact Python ints: 11M start times
        numeric = [f for f in self.schema if _numeric(f.type)]  # overflow int64 (Arrow's sum wraps round there)
        for f in numeric:
            c = _q(f.name)
            aggs += [f"sum({c})", f"max({c})", f"min({c})", f"avg({c})"]
        present = [i for i in IDS if i in cols]
        for i in present:
            aggs += [f"count(DISTINCT {i})", f"count(*) - count({i})", f"min({i})"]
        if "severity" in cols:
            given = ", ".join(f"'{s}'" for s in SEVERITIES)
            aggs.append(f"list(DISTINCT severity) FILTER (WHERE severity IN ({given}))")
        figures = {
            row[0]: list(row[1:])
            for row in self.con.execute(
                f"SELECT _g, {', '.join(aggs)} FROM {r} WHERE _g IN ({wanted}) GROUP BY _g"
            ).fetchall()
        }
        rows = self.con.sql(
            f"SELECT * EXCLUDE (_rn, _warm) FROM {r} WHERE _g IN ({wanted}) AND _rn <= {int(max_rows)} ORDER BY _g, _rn"
        ).to_arrow_table()
        windows: dict[int, list[tuple[int, int]]] = {g: [] for g in chosen}
        if "start_ns" in cols and "end_ns" in cols:
            for g, s, e in self.con.execute(
                f"SELECT _g, start_ns, end_ns FROM (SELECT _g, start_ns, end_ns, row_number() OVER "
                f"(PARTITION BY _g ORDER BY _rn) AS _w FROM {r} WHERE _g IN ({wanted}) "
                f"AND start_ns IS NOT NULL AND end_ns IS NOT NULL) WHERE _w <= {int(max_windows)} ORDER BY _g, _w"
            ).fetchall():
                windows[g].append((int(s), int(e)))
        first_row = {}
        for i, g in enumerate(rows.column("_g").to_pylist()):
            first_row.setdefault(g, i)
        rows = rows.drop_columns(["_g"])
        out = []
        for g in chosen:
            fig = figures[g]
            n, impact = fig.pop(0), fig.pop(0)
            numbers = {}
            for f in numeric:
                for stat in ("sum", "max", "min", "avg"):
                    numbers[f"{stat}_{f.name}"] = fig.pop(0)
            ids = dict.fromkeys(IDS)
            for i in present:
                distinct, nulls, value = fig.pop(0), fig.pop(0), fig.pop(0)
                ids[i] = value if distinct == 1 and nulls == 0 else None  # as a set of the values: one, NULL too
            out.append(
                Group(
                    rows=rows.slice(first_row[g], min(n, max_rows)),
                    n=n,
                    impact=int(impact or 0),
                    numbers=numbers,
                    ids=ids,
                    severities=(fig.pop(0) or []) if "severity" in cols else [],
                    windows=sorted(windows[g]),
                )
            )
        return out

    def close(self) -> None:
        for suffix in ("_r", "_g", ""):
            self.con.execute(f"DROP TABLE IF EXISTS {self.name}{suffix}")
