"""docs/rules.md, generated: how to write a rule and the sandbox it runs in (`_DOC_INTRO`), then each built-in
rule from its header, so that the reference cannot drift from the SQL (tests/test_analysis_sql_files.py checks it).

Written by `python -m inferscope.analyze.rules`.
"""

from __future__ import annotations

from ..errors import RuleError
from .rule_files import discover

_DOC_INTRO = """# InferScope rules

Generated from the headers of `sql/rules/*.sql` by `python -m inferscope.analyze.rules`.

## Writing a rule

A rule is one `.sql` file: a comment header, then one DuckDB `SELECT` over the trace model tables and the views
in `sql/views/` (docs/trace-model.md; `inferscope query TRACE "SELECT * FROM gpu_idle_causes"` shows a view).
Load your own with `inferscope analyze TRACE --rules DIR` (or `Trace.analyze(rules_dirs=[DIR])`).

```sql
-- rule: long_kernels
-- title: Kernels longer than a threshold
-- severity: auto
-- group_by: device_id
-- param min_ns = 1000000: shortest kernel reported (ns)
-- impact: the kernel's duration.
-- summary: {n} kernel{s} on {gpu} ran longer than {p_min_ns:time}, {impact:time} in total; the longest is
--   {name} ({dur_ns:time}).
-- recommendation: Look at these kernels with Nsight Compute.
-- why: Long kernels dominate step time.
SELECT dur_ns AS impact_ns, start_ns, end_ns, dur_ns, device_id, pid, name
FROM kernels WHERE dur_ns >= $min_ns
```

Header keys (one per line, `-- key: value`; a value continues on lines indented by two spaces):

| key | required | meaning |
|---|---|---|
| `rule` | yes | id, lower_snake_case, unique across all loaded rules |
| `title` | yes | short name of the problem |
| `severity` | yes | `high`, `medium`, `low`, `info`, or `auto` (by impact relative to the device's active span: >= 10 % high, >= 3 % medium, > 0 low, 0 info) |
| `summary` | yes | one sentence template (below) |
| `recommendation` | yes | what to do; also a template |
| `group_by` | no | columns whose values split the rows into findings (default `device_id, pid`; absent columns are ignored) |
| `param NAME = DEFAULT: doc` | no | a parameter, used in the SQL as `$NAME`; override with `--param RULE.NAME=VALUE` (typed like the default) |
| `impact`, `why`, `parity` | no | what impact_ns measures; why the recommendation helps; relation to an nsys rule |
| `steady_state` | no | `true` for advice that holds for a steady loop (CUDA graphs, preallocation): evidence rows inside a process's warm-up window (view `warmup`) are set aside, and become an `info` finding that says so (below) |

The query must return `impact_ns` (GPU time lost or at stake for the row, ns). Optional columns with a meaning:
`start_ns`/`end_ns` (the finding's time windows), `device_id`, `pid`, `tid` (where), `severity` (overrides the
header per row). Rows are grouped by `group_by` into findings; a finding's impact is the sum of its rows'
impact_ns; findings of all rules are ranked by impact.

Templates are Python format strings over the finding's rows: `{col}` is the value in its costliest row, `{sum_col}`,
`{max_col}`, `{min_col}`, `{avg_col}` aggregate numeric columns, `{n}` counts rows (`{s}`, `{es}`, `{ies}`, `{were}` agree with it),
`{impact}` is the finding's impact, `{share}` its percentage of the device's active span, `{gpu}` reads "GPU 3" or
"all GPUs", `{p_NAME}` is a parameter value. Unit formats: `{x:time}` (ns), `{x:bytes}`, `{x:rate}` (bytes/s),
`{x:pct}`, `{x:int}`.

With `steady_state: true`, a row with `start_ns`/`end_ns` inside its process's warm-up window (rows without `pid`:
inside any process's), or a row without times of a process whose warm-up window covers at least half its span,
is warm-up work. The other rows make the findings, each saying how many rows were left out; the warm-up rows make
findings of their own with severity `info`, no impact, and the advice to profile a steady step (`--skip-warmup`).

A malformed rule (bad header line, SQL error, missing impact_ns, a template naming a column the query does not
return) is reported as `FILE:LINE: message` in `rule_errors` (and as a warning by the CLI); the other rules still run.

## Rule sandbox

A rule file is code from whoever wrote it, so a rule you load (not the built-in ones) is checked with DuckDB's
own parser before it runs, and refused with one `FILE:LINE: rule ID: refused: ...` line in `rule_errors` unless it
only reads the trace:

- it is exactly one `SELECT` (CTEs, subqueries, window functions, `$params` are fine): no `COPY`, `ATTACH`,
  `INSTALL`, `LOAD`, `SET`, `PRAGMA`, `CREATE`, `DROP` or second statement;
- every table it reads is a trace table, a view or macro of `sql/views/`, or one of its own CTEs: no file paths
  (`FROM 'x.csv'`), no other database;
- its table functions are `range`, `generate_series`, `unnest` or the trace's table macros: no `read_csv`,
  `read_text`, `read_parquet`, `glob`, `query`, `duckdb_*`, `pragma_*`;
- its functions are DuckDB functions already loaded, other than those that read the environment, settings,
  secrets or sequences (`getenv`, `current_setting`, `getvariable`, `nextval`, ...). An unknown function is refused
  too, because calling one would make DuckDB install an extension from the network;
- it casts only to types DuckDB has loaded: `'1.2.3.4'::INET` would install the `inet` extension the same way.

So a rule cannot write or read files, attach databases, install or load extensions, change settings, or replace
or drop the model's views; the rest of the analysis runs as if the refused rule were absent.

Where rules come from. `--rules DIR` and `Trace.analyze(rules_dirs=[DIR])` are your own choice and run. A
`rules_dirs` entry in project configuration (docs/configuration.md) does not run until you allow it, because the
file may come from a repository you cloned or a folder you `cd` into: see "Trusting project rules" there.

## Built-in rules
"""


def markdown() -> str:
    rules, errors = discover()
    if errors:
        raise RuleError("; ".join(errors))
    out = [_DOC_INTRO]
    for r in rules:
        steady = " Steady state: warm-up evidence is set aside." if r.steady_state else ""
        out += [
            f"### `{r.id}`: {r.title}",
            "",
            f"Severity: {r.severity}. Findings per: {', '.join(r.group_by)}.{steady}",
            "",
        ]
        if r.parity:
            out += [f"nsys parity: {r.parity}", ""]
        out += [f"Impact: {r.impact_doc}", "", f"Why: {r.why}", "", f"Recommendation: {r.recommendation}", ""]
        if r.params:
            out += ["| parameter | default | meaning |", "|---|---|---|"]
            out += [f"| `{p.name}` | `{p.default}` | {p.doc} |" for p in r.params.values()]
            out.append("")
    return "\n".join(out)
