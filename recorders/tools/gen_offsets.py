"""Regenerate recorders/cpython_layout.py: struct offsets of the CPython internals the out-of-process sampler reads.

Usage: python recorders/tools/gen_offsets.py /path/to/python3.11 /path/to/python3.12 ... > recorders/cpython_layout.py

For each interpreter it compiles a tiny C program against that interpreter's own headers (Py_BUILD_CORE, so the
internal headers are visible) and prints offsetof()/sizeof() values. Offsets are taken from the compiler rather
than written by hand because the structs are private and change between minor versions. The sampler never trusts
the table blindly: every workload process checks the layout against itself before it accepts remote sampling
(see recorders/agent.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

C_SOURCE = r"""
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#include "internal/pycore_gil.h"

static unsigned int state_mask(int which) {
    PyASCIIObject o; unsigned int word = 0;
    memset(&o, 0, sizeof o);
    if (which == 0) o.state.kind = 7;
    if (which == 1) o.state.compact = 1;
    if (which == 2) o.state.ascii = 1;
    memcpy(&word, &o.state, sizeof word);
    return word;
}

#define P(name, value) printf("\"%s\": %ld,\n", name, (long)(value))

int main(void) {
    printf("{\n");
    P("tstate_next", offsetof(PyThreadState, next));
    P("tstate_interp", offsetof(PyThreadState, interp));
    P("tstate_thread_id", offsetof(PyThreadState, thread_id));
    P("tstate_native_thread_id", offsetof(PyThreadState, native_thread_id));
#if PY_VERSION_HEX >= 0x030D0000
    P("tstate_cframe", -1);
    P("tstate_current_frame", offsetof(PyThreadState, current_frame));
    P("cframe_current_frame", -1);
    P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
    P("frame_instr", offsetof(_PyInterpreterFrame, instr_ptr));
    P("frame_instr_is_prev", 0);
#else
    P("tstate_cframe", offsetof(PyThreadState, cframe));
    P("tstate_current_frame", -1);
    P("cframe_current_frame", offsetof(_PyCFrame, current_frame));
    P("frame_code", offsetof(_PyInterpreterFrame, f_code));
    P("frame_instr", offsetof(_PyInterpreterFrame, prev_instr));
    P("frame_instr_is_prev", 1);
#endif
    P("frame_previous", offsetof(_PyInterpreterFrame, previous));
    P("frame_owner", offsetof(_PyInterpreterFrame, owner));
    P("frame_size", sizeof(_PyInterpreterFrame));
#if PY_VERSION_HEX >= 0x030C0000
    P("frame_owner_cstack", FRAME_OWNED_BY_CSTACK);
#else
    P("frame_owner_cstack", -1);
#endif
    P("interp_threads_head", offsetof(PyInterpreterState, threads.head));
#if PY_VERSION_HEX >= 0x030C0000
    P("gil_in_runtime", 0);
    P("interp_gil_ptr", offsetof(PyInterpreterState, ceval.gil));
    P("runtime_gil", -1);
#else
    P("gil_in_runtime", 1);
    P("interp_gil_ptr", -1);
    P("runtime_gil", offsetof(_PyRuntimeState, ceval.gil));
#endif
    P("gil_last_holder", offsetof(struct _gil_runtime_state, last_holder));
    P("gil_locked", offsetof(struct _gil_runtime_state, locked));
    P("code_filename", offsetof(PyCodeObject, co_filename));
    P("code_name", offsetof(PyCodeObject, co_name));
    P("code_qualname", offsetof(PyCodeObject, co_qualname));
    P("code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
    P("code_linetable", offsetof(PyCodeObject, co_linetable));
    P("code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
    P("object_type", offsetof(PyObject, ob_type));
    P("bytes_size", offsetof(PyVarObject, ob_size));
    P("bytes_data", offsetof(PyBytesObject, ob_sval));
    P("str_length", offsetof(PyASCIIObject, length));
    P("str_state", offsetof(PyASCIIObject, state));
    P("str_ascii_size", sizeof(PyASCIIObject));
    P("str_compact_size", sizeof(PyCompactUnicodeObject));
    P("str_kind_mask", state_mask(0));
    P("str_compact_mask", state_mask(1));
    P("str_ascii_mask", state_mask(2));
    printf("\"pointer_size\": %ld\n}\n", (long)sizeof(void *));
    return 0;
}
"""


def layout(python: str) -> tuple[str, dict]:
    info = json.loads(
        subprocess.check_output(
            [
                python,
                "-c",
                (
                    "import json, sys, sysconfig; print(json.dumps({'v': '%d.%d' % sys.version_info[:2], "
                    "'inc': sysconfig.get_paths()['include'], 'machine': __import__('platform').machine()}))"
                ),
            ]
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "layout.c", Path(tmp) / "layout"
        src.write_text(C_SOURCE)
        subprocess.check_call(["cc", "-O0", "-w", f"-I{info['inc']}", str(src), "-o", str(exe)])
        values = json.loads(subprocess.check_output([str(exe)]))
    return f"{info['v']}/{info['machine']}", values


def main(pythons: list[str]) -> None:
    tables = dict(layout(p) for p in pythons)
    print('"""CPython struct offsets for the out-of-process sampler (generated by recorders/tools/gen_offsets.py;')
    print('do not edit). Keys are "MAJOR.MINOR/machine"; a release build of that version is assumed, and each')
    print('workload process verifies the table against itself before remote sampling is used."""')
    print("from __future__ import annotations  # the agent also loads this module into Python 3.8-3.10 workloads")
    print()
    print("LAYOUTS: dict[str, dict[str, int]] = {")
    for key in sorted(tables, key=lambda k: tuple(int(x) for x in k.split("/")[0].split("."))):
        print(f"    {key!r}: {{")
        for name, value in tables[key].items():
            print(f"        {name!r}: {value},")
        print("    },")
    print("}")


if __name__ == "__main__":
    main(sys.argv[1:])
