"""Output formats for an `Analysis`: one function per format, looked up by name.

`inferscope analyze --format NAME` and `-o FILE.ext` pick a renderer from FORMATS; a new format is one module
that adds itself here (FORMATS["md"] = render_markdown). A renderer takes the Analysis and returns the whole
document as text, so the CLI can write it atomically; it never computes anything the Analysis does not hold.

Stage 6, render: every output of an analysis (here, `report`, `report_data`, `charts`, `terminal`, `notebook`),
of a trace (`perfetto`) and of a comparison (`compare`). May import every stage below (ground, ingest, engine,
analyze, comparison); none of them imports this one.
"""

from __future__ import annotations

from typing import Callable

from ..analyze.result import Analysis

Renderer = Callable[..., str]


def render_json(analysis: Analysis, **_options) -> str:
    return analysis.to_json() + "\n"


def render_terminal(analysis: Analysis, color: bool = False, width: int | None = None, trace=None, **_options) -> str:
    from .terminal import render

    return render(analysis, color=color, width=width, trace=trace)


def render_md(analysis: Analysis, trace=None, **_options) -> str:
    from .report import render_analysis

    return render_analysis(analysis, "md", trace)


def render_html(analysis: Analysis, trace=None, **_options) -> str:
    from .report import render_analysis

    return render_analysis(analysis, "html", trace)


FORMATS: dict[str, Renderer] = {"terminal": render_terminal, "json": render_json, "md": render_md, "html": render_html}
SUFFIXES: dict[str, str] = {
    ".json": "json",
    ".txt": "terminal",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}


def register(name: str, renderer: Renderer, *suffixes: str) -> None:
    FORMATS[name] = renderer
    for s in suffixes:
        SUFFIXES[s] = name


def render(analysis: Analysis, fmt: str, **options) -> str:
    from ..errors import QueryError

    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; choose from {', '.join(sorted(FORMATS))}")
    return FORMATS[fmt](analysis, **options)
