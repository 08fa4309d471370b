"""Where the SQL and template files live, both in a source checkout and in an installed wheel.

The wheel carries `sql/` and `templates/` as `inferscope/_data/...`; a checkout (or editable install) has them at
the repository root. Looking in both keeps `inferscope` working from any directory either way.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"InferScope installation is incomplete: no {name}/ directory next to {_PKG}")


def sql_dir() -> Path:
    return _find("sql")


def templates_dir() -> Path:
    return _find("templates")


def read_sql(relative: str) -> str:
    return (sql_dir() / relative).read_text(encoding="utf-8")
