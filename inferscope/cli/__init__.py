"""The `inferscope` command line: a thin layer over the Python API (one module per command group).

Every `InferScopeError` becomes one line on stderr and exit code 2; usage errors are click's (also exit 2).
"""
from __future__ import annotations

import sys

from ._common import app, run_app

# Command modules register themselves on `app` when imported.
from . import tables as _tables  # noqa: F401,E402
from . import config as _config  # noqa: F401,E402
from . import analyze as _analyze  # noqa: F401,E402
from . import perfetto as _perfetto  # noqa: F401,E402
from . import record as _record  # noqa: F401,E402
from . import compare as _compare  # noqa: F401,E402


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_app(argv))


__all__ = ["app", "main"]
