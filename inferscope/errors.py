"""Exception types of the public API.

The CLI turns every `InferScopeError` into one line on stderr and exit code 2; anything else is a bug, reported
in one line with its traceback saved to a file (docs/ci.md, "exit"). Library users catch these types instead of
parsing messages.
"""

from __future__ import annotations

import re


class InferScopeError(Exception):
    """Base class: a problem the user can fix (bad input, missing tool, bad option)."""

    exit_code = 2


class TraceInputError(InferScopeError):
    """The trace path is missing, empty, unreadable, corrupt or not a trace format InferScope knows."""


class NsysNotFoundError(InferScopeError):
    """A `.nsys-rep` needs the `nsys` CLI to export it and none was found."""


class NsysVersionError(InferScopeError):
    """The local nsys is older than the one that wrote the report."""


class QueryError(InferScopeError):
    """A user-supplied SQL query, report name or parameter is invalid."""


class RuleError(InferScopeError):
    """A rule file is malformed (the message names the file and line)."""


class ConfigError(InferScopeError):
    """A configuration file, INFERSCOPE_* variable or option has an unknown key or a bad value (the message names
    the file or variable and the key)."""


class CompareError(InferScopeError):
    """Two traces cannot be compared (different GPUs, nothing in common)."""


class OutOfMemoryError(InferScopeError):
    """DuckDB ran out of memory: the cap set in INFERSCOPE_MEMORY_LIMIT is too small for this trace, or the
    machine's memory is. Something the user changes (the cap, the window, the machine), so one line, not a bug
    report."""


# Characters that act on a terminal or hide text instead of showing as themselves: C0 controls (ESC starts colour,
# cursor and OSC-8 hyperlink sequences, BEL rings, CR overwrites the line), DEL, C1 controls (0x9b is a one-byte
# CSI), zero-width characters, bidirectional overrides (U+202E shows `exe.txt` for `txt.exe`) and the Unicode line
# and paragraph separators; likewise every other Unicode format character (category Cf: Arabic and Syriac marks,
# the deprecated U+206A-206F, hieroglyph and shorthand format controls, and the tag characters U+E0000-E007F, which
# render as nothing and can carry hidden text). Kernel names, NVTX text and file names can hold any of them;
# tests/hostile/test_escape_fuzz.py checks the class against unicodedata.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _shown(match: "re.Match[str]") -> str:
    ch = match.group(0)
    code = ord(ch)
    if code > 0xFFFF:  # as Python spells it (\U000e0041): "\ue0041" would read as U+E004 and a "1"
        return f"\\U{code:08x}"
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: object, keep_newlines: bool = False) -> str:
    """`text` with every control, invisible or direction-changing character written as its Python escape (ESC
    becomes the four characters `\\x1b`), so that a name from a trace prints as what it is and cannot colour,
    move the cursor, open a hyperlink or start a new line on the reader's terminal or in a CI log. With
    `keep_newlines`, a line feed stays one (prose the program wrote in several lines)."""
    s = str(text)
    if keep_newlines:
        return "\n".join(_INVISIBLE.sub(_shown, part) for part in s.split("\n"))
    return _INVISIBLE.sub(_shown, s)
