"""Exception types of the public API.

The CLI turns every `InferScopeError` into one line on stderr and exit code 2; anything else is a bug and keeps
its traceback. Library users catch these types instead of parsing messages.
"""


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
