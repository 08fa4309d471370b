"""The `inferscope` command line: a thin layer over the Python API (one module per command group).

Every `InferScopeError` becomes one line on stderr and exit code 2, and so does every usage error (unknown
command or option, missing argument, bad value), with a pointer to the command's --help (cli/_usage.py).

Stage 8, the top: may import every stage. A command parses its options, calls the API (`inferscope.api`,
`comparison`, `render`, `engine`) and prints; what it computes belongs to the stage below that does the work.
"""

from __future__ import annotations

import sys

from ._common import app, run_app
from ._pandas_refusal import refuse_pandas

# Command modules register themselves on `app` when imported.
from . import tables as _tables  # noqa: F401,E402
from . import config as _config  # noqa: F401,E402
from . import analyze as _analyze  # noqa: F401,E402
from . import perfetto as _perfetto  # noqa: F401,E402
from . import record as _record  # noqa: F401,E402
from . import compare as _compare  # noqa: F401,E402
from . import cache as _cache_cmd  # noqa: F401,E402


def main(argv: list[str] | None = None) -> None:
    refuse_pandas()
    sys.exit(run_app(argv, exiting=True))


__all__ = ["app", "main"]
