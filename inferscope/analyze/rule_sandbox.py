"""The user-rule sandbox: a rule someone else wrote runs only if it is one SELECT that reads nothing but the trace.

The allow-list lives apart from the runner so that the whole security boundary can be read (and reviewed) in one
place; the comment below says what is allowed and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from ..errors import RuleError
from .rule_files import Rule, sql_error

# --- what a user rule may do ----------------------------------------------------------------------------------
#
# A rule file is code from whoever wrote it: a colleague, a cloned repository, a bundle someone sent. DuckDB
# would run anything in it (COPY TO a file, ATTACH, INSTALL, SET, read_csv('/etc/passwd'), CREATE OR REPLACE VIEW
# kernels ...). Connection-wide switches do not fit: `enable_external_access=false` and `lock_configuration` cannot
# be undone on the connection the Trace keeps for the caller's own queries afterwards, and neither stops a rule
# from replacing or dropping a model view. So a user rule is checked before it runs, with DuckDB's own parser
# (extract_statements for the statement type, json_serialize_sql for the syntax tree, in 1.2 as in 2.x): it must be
# one SELECT whose tables are the trace's tables, views, macros or its own CTEs, whose table functions are
# range/generate_series/unnest or the trace's table macros, and whose functions are loaded DuckDB functions other
# than those that read the environment, settings, secrets, sequences or files. An unknown function is refused
# too, because calling one makes DuckDB auto-install an extension from the network; so is a cast to a type DuckDB
# has not loaded ('127.0.0.1'::INET downloads the inet extension the same way). A SELECT cannot write, attach,
# load, set or replace anything, so this allow-list is the whole boundary; built-in rules (sql/rules) are ours and
# are not checked.

SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Names DuckDB's binder handles itself, so duckdb_functions() does not list them.
BINDER_FUNCTIONS = frozenset({"unnest", "unlist", "grouping", "grouping_id", "ifnull", "coalesce", "try"})
DENIED_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "getvariable",
        "nextval",
        "currval",
        "setval",
        "write_log",
        "which_secret",
        "query",
        "query_table",
        "glob",
        "json_execute_serialized_sql",
    }
)
DENIED_PREFIXES = ("read_", "pragma_", "duckdb_", "parquet_", "sniff_", "iceberg_", "delta_", "st_read")
_SCHEMAS = frozenset({"", "main", "temp"})
_CATALOGS = frozenset({"", "memory", "temp"})
_NO_LOCATION = 2**32
_ONLY = "a rule may only read the trace, with one SELECT (docs/rules.md, 'Rule sandbox')"


@dataclass
class _Tree:
    tables: list = field(default_factory=list)
    table_functions: list = field(default_factory=list)
    functions: list = field(default_factory=list)
    types: list = field(default_factory=list)
    ctes: set = field(default_factory=set)


def _walk(node, tree: _Tree) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, tree)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "BASE_TABLE":
        tree.tables.append(node)
    elif kind == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
        fn = node["function"]
        tree.table_functions.append(fn)
        for value in fn.values():  # its arguments may hold subqueries; the call itself is a table function
            _walk(value, tree)
        for key, value in node.items():
            if key != "function":
                _walk(value, tree)
        return
    if "function_name" in node:
        tree.functions.append(node)
    if node.get("class") == "TYPE" and "type_name" in node:  # DuckDB 1.4+: a type is an expression node
        tree.types.append(node)
    elif node.get("id") == "USER" and isinstance(node.get("type_info"), dict):  # earlier: a user type's info
        info = node["type_info"]
        tree.types.append({**info, "type_name": info.get("user_type_name", "")})
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        tree.ctes.update(str(e.get("key", "")).lower() for e in cte_map.get("map", []) if isinstance(e, dict))
    for value in node.values():
        _walk(value, tree)


def _raw(con):
    """The DuckDB connection under a LazyConnection, so that checking a rule creates no views."""
    return getattr(con, "_con", con)


def _names(con) -> tuple[set[str], set[str]]:
    """(tables, views and macros a rule may name; functions DuckDB has loaded)."""
    engine = getattr(con, "_engine", None)
    raw = _raw(con)
    if engine is not None:
        objects = engine.object_names()
    else:
        found = raw.execute(
            "SELECT view_name FROM duckdb_views() UNION SELECT table_name FROM duckdb_tables() UNION "
            "SELECT function_name FROM duckdb_functions() WHERE function_type IN ('macro', 'table_macro')"
        ).fetchall()
        objects = {n.lower() for (n,) in found}
    loaded = raw.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('scalar', 'aggregate', 'macro')"
    ).fetchall()
    return objects, {n.lower() for (n,) in loaded} | objects


def _types(con) -> set[str]:
    """The type names DuckDB has loaded (aliases included, lower case); a cast to any other would autoload."""
    return {n.lower() for (n,) in _raw(con).execute("SELECT DISTINCT type_name FROM duckdb_types()").fetchall()}


def _denied(name: str) -> bool:
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


def check_sandbox(con, rule: Rule) -> None:
    """Raise RuleError (one line naming the file and line) unless the rule is one SELECT that only reads the
    trace; see the comment above for what is allowed and why."""

    def refuse(what: str, node: dict | None = None) -> RuleError:
        line = rule.header.body_line
        loc = node.get("query_location") if isinstance(node, dict) else None
        if isinstance(loc, int) and 0 <= loc < min(len(rule.sql), _NO_LOCATION):
            line += rule.sql.count("\n", 0, loc)
        return RuleError(f"{rule.path}:{line}: rule {rule.id}: refused: {what}; {_ONLY}")

    try:
        statements = duckdb.extract_statements(rule.sql)
    except duckdb.Error as exc:
        raise RuleError(sql_error(rule, exc)) from exc
    if len(statements) != 1:
        kinds = ", ".join(_kind(s) for s in statements) or "nothing"
        raise refuse(f"it has {len(statements)} statements ({kinds})")
    if _kind(statements[0]) != "SELECT":
        kind = _kind(statements[0])
        raise refuse(f"it is {'an' if kind[:1] in 'AEIOU' else 'a'} {kind} statement, not a SELECT")
    raw = _raw(con)
    try:
        doc = raw.execute("SELECT json_serialize_sql($sql)", {"sql": rule.sql}).fetchone()[0]
        tree_json = json.loads(doc)
    except (duckdb.Error, ValueError, TypeError) as exc:
        raise refuse(
            f"DuckDB could not parse it for checking ({str(exc).splitlines()[0] if str(exc) else exc})"
        ) from None
    if tree_json.get("error"):
        raise refuse(f"DuckDB could not check it ({tree_json.get('error_message', 'unknown error')})")
    tree = _Tree()
    _walk(tree_json.get("statements", []), tree)
    objects, functions = _names(con)
    for node in tree.tables:
        name = str(node.get("table_name", ""))
        schema = str(node.get("schema_name", "")).lower()
        catalog = str(node.get("catalog_name", "")).lower()
        if schema not in _SCHEMAS or catalog not in _CATALOGS:
            raise refuse(f"it reads {'.'.join(p for p in (catalog, schema, name) if p)}, outside the trace", node)
        if name.lower() not in objects and name.lower() not in tree.ctes:
            raise refuse(f"it reads {name!r}, which is not a table or view of the trace (docs/trace-model.md)", node)
    for node in tree.table_functions:
        name = str(node.get("function_name", "")).lower()
        if name not in SAFE_TABLE_FUNCTIONS and (name not in objects or _denied(name)):
            raise refuse(
                f"it calls table function {name}(), which a rule may not use (only range, "
                "generate_series, unnest and the trace's table macros)",
                node,
            )
    for node in tree.functions:
        name = str(node.get("function_name", "")).lower()
        schema = str(node.get("schema", "")).lower()
        if _denied(name) or schema not in _SCHEMAS:
            raise refuse(f"it calls {name}(), which reads outside the trace (environment, settings or files)", node)
        if (
            node.get("class") != "WINDOW"
            and name not in functions
            and name not in BINDER_FUNCTIONS | SAFE_TABLE_FUNCTIONS
        ):
            raise refuse(f"it calls {name}(), which is not a loaded DuckDB function or trace macro", node)
    loaded_types = _types(con) if tree.types else set()
    for node in tree.types:
        name = str(node.get("type_name", ""))
        if name.lower() not in loaded_types or str(node.get("catalog", "")).lower() not in _CATALOGS:
            raise refuse(f"it casts to type {name}, which DuckDB has not loaded (it would install an extension)", node)


def _kind(statement) -> str:
    """StatementType.SELECT -> SELECT (the enum prints differently across DuckDB versions)."""
    return str(getattr(statement.type, "name", statement.type)).rsplit(".", 1)[-1].upper()
