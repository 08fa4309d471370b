"""Readable short names for demangled kernel names (the Kineto ingest's `kernels.short_name`).

The PyTorch profiler records a kernel's full demangled C++ name: `void at::native::(anonymous
namespace)::CatArrayBatchedCopy<float, unsigned int, 2, 128, 1>(...)` or `std::enable_if<..., void>::type
vllm::fused_add_rms_norm_kernel<c10::BFloat16, 8>(...)`. Cutting such a name at its first `<`, `(` or space gives
"at::native::", "std::enable_if" or nothing at all, and merges every template instance into one row, so the
top-kernel table lost the data type and reordered. Here the name is parsed with bracket depth instead: the
function's own name is the last top-level word before the parameter list (after the return type), its
namespaces are dropped, and the scalar types its template arguments name are kept in a short suffix
(`CatArrayBatchedCopy<fp32>`, `fused_add_rms_norm_kernel<bf16>`), so instances that differ in data type stay
apart while those that differ only in tile sizes or functors share a row. Wrappers whose real name is their
template argument (`cutlass::Kernel<cutlass_80_tensorop_s1688gemm_...>`) are named after that argument.
The full name stays in `kernels.name`, untouched.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_ANON = "(anonymous namespace)"
_ANON_TOKEN = "{anonymous}"
# kernels whose name says nothing and whose first template argument is the real kernel
_WRAPPERS = frozenset({"Kernel", "Kernel2", "device_kernel"})
_OPEN = {"<": ">", "(": ")", "{": "}", "[": "]"}

# spellings of a scalar type -> short tag, floating types first (an ML kernel's data type); the first integer type
# names a kernel only when it has no floating type (index kernels): integers are otherwise index or count types
_FLOAT_TYPES = (
    (r"c10::complex<float>|std::complex<float>|cuComplex|cuFloatComplex", "c64"),
    (r"c10::complex<double>|std::complex<double>|cuDoubleComplex", "c128"),
    (r"c10::complex<c10::Half>", "c32"),
    (r"c10::BFloat16|at::BFloat16|__nv_bfloat16|nv_bfloat16|cutlass::bfloat16_t|__bf16|hip_bfloat16", "bf16"),
    (r"c10::Half|at::Half|__half|cutlass::half_t|half", "fp16"),
    (r"c10::Float8_e4m3fnuz|c10::Float8_e4m3fn|__nv_fp8_e4m3|cutlass::float_e4m3_t", "fp8e4m3"),
    (r"c10::Float8_e5m2fnuz|c10::Float8_e5m2|__nv_fp8_e5m2|cutlass::float_e5m2_t", "fp8e5m2"),
    (r"__nv_fp4_e2m1|cutlass::float_e2m1_t|c10::Float4_e2m1fn_x2", "fp4e2m1"),
    (r"double", "fp64"),
    (r"float", "fp32"),
)
_INT_TYPES = (
    (r"unsigned char|uint8_t|c10::quint8", "u8"),
    (r"signed char|int8_t|c10::qint8", "i8"),
    (r"unsigned short|uint16_t", "u16"),
    (r"short|int16_t", "i16"),
    (r"unsigned long long|unsigned long|uint64_t", "u64"),
    (r"long long|long|int64_t", "i64"),
    (r"unsigned int|unsigned|uint32_t", "u32"),
    (r"int|int32_t", "i32"),
    (r"bool", "bool"),
)


def _alternation(table) -> re.Pattern:
    # a type word not followed by a pointer or reference (pointers are buffers, not the kernel's data type)
    parts = "|".join(f"(?P<t{i}>{spelling})" for i, (spelling, _) in enumerate(table))
    return re.compile(rf"(?<![\w:])(?:{parts})(?![\w:])(?!\s*[*&])")


_FLOAT_RE = _alternation(_FLOAT_TYPES)
_INT_RE = _alternation(_INT_TYPES)


def _types(text: str, pattern: re.Pattern, table) -> list[str]:
    seen: list[str] = []
    for m in pattern.finditer(text):
        tag = table[int(m.lastgroup[1:])][1]
        if tag not in seen:
            seen.append(tag)
    return seen


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split at `sep` where no bracket is open (a `>` inside parentheses, as in `(8)>(0)`, closes nothing)."""
    parts, depth_stack, start, i = [], [], 0, 0
    while i < len(text):
        c = text[i]
        if c in _OPEN and not (c == "<" and depth_stack and depth_stack[-1] in "({"):
            depth_stack.append(c)
        elif depth_stack and c == _OPEN[depth_stack[-1]]:
            depth_stack.pop()
        elif not depth_stack and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _signature(name: str) -> str:
    """The part before the top-level parameter list: return type and qualified name with template arguments."""
    stack: list[str] = []
    for i, c in enumerate(name):
        if c == "(" and not stack and i > 0:
            return name[:i]
        if c in _OPEN and not (c == "<" and stack and stack[-1] in "({"):
            stack.append(c)
        elif stack and c == _OPEN[stack[-1]]:
            stack.pop()
    return name


def short_name(name: str | None) -> str | None:
    """A readable name for one demangled kernel name: the function name without namespaces, plus `<types>` when
    its template arguments name scalar types. None for None or an empty name."""
    if not name or not name.strip():
        return None
    text = name.strip().replace(_ANON, _ANON_TOKEN)
    signature = _signature(text).strip()
    words = [w for w in _split_top(signature, " ") if w]
    qualified = words[-1] if words else signature
    components = [c for c in _split_top(qualified, "::") if c]
    last = components[-1] if components else qualified
    base, _, rest = last.partition("<")
    base = base.strip()
    targs = rest[:-1] if rest.endswith(">") else rest
    if base in _WRAPPERS and targs:
        inner = short_name(_split_top(targs, ",")[0].strip())
        if inner:
            return inner
    if not base or base == _ANON_TOKEN:
        return name.strip()
    if not targs:
        return base
    tags = _types(targs, _FLOAT_RE, _FLOAT_TYPES) or _types(targs, _INT_RE, _INT_TYPES)[:1]
    return f"{base}<{','.join(tags)}>" if tags else base


def short_names(names: pa.Array | pa.ChunkedArray) -> pa.Array:
    """short_name over a column, parsing each distinct name once (a trace has millions of kernels and hundreds of
    distinct names)."""
    names = names.combine_chunks() if isinstance(names, pa.ChunkedArray) else names
    if names.type != pa.string():
        names = names.cast(pa.string())
    distinct = pc.unique(names)
    mapped = pa.array([short_name(n) for n in distinct.to_pylist()], type=pa.string())
    return pc.take(mapped, pc.index_in(names, value_set=distinct))
