"""Progress display for slow steps (trace conversion): a rich spinner on a terminal, silence otherwise, so
logs and pipes stay clean."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def spinner(enabled: bool | None = None) -> Iterator[Callable[[str], None]]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda _msg: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("InferScope") as status:
        yield lambda msg: status.update(f"[bold]InferScope[/]: {msg}")
