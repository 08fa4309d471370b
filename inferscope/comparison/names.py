"""Name normalisation for matching kernels and ranges across two builds or two profilers.

Two traces of the same program rarely spell every name the same way: nsys and Kineto demangle differently
(`<(int)4, ...>` vs `<4, ...>`, `char *` vs `char*`, `[lambda() (instance 3)]` vs `{lambda()#3}`), a new compiler
or library moves template arguments, JIT kernels carry hashes or ordinal suffixes, and PyTorch's NVTX ranges
embed per-call ids (`aten::mul, op_id = 314339`) that never repeat. Matching on raw names would then report
every such kernel as removed in one trace and added in the other.

Range names carry per-run ids too: PyTorch's Python-function events name bound methods with the object's memory
address (`<built-in method keys of dict object at 0x7fe02cbe57c0>`, a different address in every run), and a
serving engine's annotations may carry request UUIDs. Kept, each would read as a range removed from one run and
another added in the next (182 such rows between two runs of the vLLM B200 trace that differ only in addresses).

`kernel_key` and `range_key` always make whitespace and per-call ids canonical (range keys: addresses and UUIDs
too); with `strip=True` they also drop template arguments, parameter lists, return types, hex hashes and trailing
ordinals, so that renamed instantiations of the same kernel compare as one.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_ANON = re.compile(r"\(anonymous namespace\)|<unnamed>|`anonymous namespace'")
# PyTorch's autograd NVTX annotations: ids that differ on every call (kept out of the key in every mode).
_TORCH_IDS = re.compile(r",\s*(?:op_id|seq|input_op_ids)\s*=\s*(?:\[[^\]]*\]|\d+)")
_TORCH_SIZES = re.compile(r",\s*sizes\s*=\s*\[.*\]")
# Per-run ids in range names (module docstring): a memory address written as a 0x literal, and a UUID.
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# A run of hex digits with both a digit and a letter (8+ chars) or a 0x literal, delimited like an identifier part.
_HASH = re.compile(r"(?:_|\b)(?:0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})(?=_|\b)")
_ORDINAL = re.compile(r"_\d+$")
_OPEN = {"<": ">", "(": ")", "[": "]", "{": "}"}


def canonical_spacing(name: str) -> str:
    """One spelling for what demanglers write differently: spaces, `> >`, `char *`, `(anonymous namespace)`."""
    s = _ANON.sub("\x00", name)  # placeholder without brackets, so the spacing rules below leave it alone
    s = _SPACES.sub(" ", s).strip()
    s = re.sub(r"\s*([<>,*&()])\s*", r"\1", s)
    return s.replace(",", ", ").replace("\x00", "(anonymous)")


def _top_level(name: str) -> str:
    """Drop every bracketed group (templates, parameter lists, lambdas) and keep the top-level identifier text."""
    out: list[str] = []
    stack: list[str] = []
    for i, ch in enumerate(name):
        if stack:
            if ch == stack[-1]:
                stack.pop()
            elif ch in _OPEN and not (ch == "<" and name[i - 1 : i] == "-"):
                stack.append(_OPEN[ch])
            continue
        if ch in _OPEN and not (ch == "(" and name[i : i + 11] == "(anonymous)"):
            stack.append(_OPEN[ch])
            continue
        out.append(ch)
    text = "".join(out) if not stack else name  # unbalanced: keep the name rather than guess
    return text.strip()


def _strip(name: str) -> str:
    s = _top_level(name)
    s = s.rsplit(" ", 1)[-1]  # the return type ("void ", "std::enable_if<...>::type ") precedes the name
    s = _HASH.sub("", s)
    s = _ORDINAL.sub("", s)
    return s.strip() or name


@lru_cache(maxsize=65536)
def kernel_key(name: str | None, strip: bool = False) -> str:
    """The matching key of a kernel name (see the module docstring)."""
    if not name:
        return "(unnamed kernel)"
    s = canonical_spacing(name)
    return _strip(s) if strip else s


@lru_cache(maxsize=65536)
def range_key(name: str | None, strip: bool = False) -> str:
    """The matching key of an NVTX / annotation range name: per-call ids removed and per-run ids (addresses, UUIDs)
    made one; shapes and templates too with strip."""
    if not name:
        return "(unnamed range)"
    s = _TORCH_IDS.sub("", name)
    if "0x" in s:
        s = _ADDRESS.sub("0x?", s)
    if "-" in s:
        s = _UUID.sub("[uuid]", s)
    if strip:
        s = _TORCH_SIZES.sub("", s)
    s = canonical_spacing(s)
    return _strip(s) if strip else s


def display_name(key: str) -> str:
    """A shorter spelling for tables: no leading `void` and no trailing parameter list (the key stays complete)."""
    s = key[5:] if key.startswith("void ") else key
    if s.endswith(")") and "<" in s:
        depth = 0
        for i in range(len(s) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(s[i], 0)
            if depth == 0:
                return s[:i] if i and s[:i].rstrip().endswith(">") else s
    return s
