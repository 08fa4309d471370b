"""A CLI command that converts or analyses a trace runs without pandas: importing it is 0.2 s of every cold run,
and no command uses it.

Why it would be imported at all: pyarrow asks "is this a pandas object?" whenever Python or numpy values become
Arrow (an array, a scalar given to a compute function), and imports pandas to find out, both in its Python layer
and in its C++ converter. A conversion makes such values in hundreds of places, so avoiding them one by one is not
practical, and one forgotten place would bring the import back.

So the console command (`main`, whose process ends with the command) refuses the import: pyarrow then takes
pandas as absent, which is what it does where pandas is not installed, and gives the same results. A program that
imports InferScope as a library, or runs the CLI in its own process through `run_app` (the tests), is not
affected.
"""

from __future__ import annotations

import sys


class _RefusePandas:
    """A meta-path finder under which `import pandas` fails, as if it were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} is not imported by the inferscope command (cli/_pandas_refusal.py)")
        return None


def refuse_pandas() -> None:
    """Install the refusal for the rest of this process (not where pandas is already imported)."""
    if "pandas" in sys.modules or any(isinstance(f, _RefusePandas) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _RefusePandas())
