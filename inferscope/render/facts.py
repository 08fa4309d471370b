"""The hardware and software facts a report opens with: GPU name, how many GPUs (active and listed), SM count,
compute capability, memory, driver version and CUDA version, and the host.

A reader judging a profile first asks "on what?", and a blank "–" does not tell them whether the machine lacked
the fact or the export dropped it. So every fact here is either a value or a sentence saying why it is missing,
and when the usual source is absent the fact comes from whatever else the trace holds: the device ids the kernels
ran on, or the GPU list nsys writes into TARGET_INFO_SYSTEM_ENV.GpuInfo. Everything comes from the model
(`devices`, and `trace_meta`, into which the nsys ingest copies NvDriverVersion, CudaDriverVersion, Hostname and
the GpuInfo names), so every input form (.nsys-rep, SQLite, Arrow, compressed, bundle) gets the same header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analyze.result import Analysis
    from ..engine.trace import Trace


@dataclass(frozen=True)
class Fact:
    label: str
    value: str | None  # None: missing, `note` says why
    note: str = ""  # where a value came from when not the obvious place, or why it is missing

    @property
    def text(self) -> str:
        if self.value is None:
            return self.note
        return f"{self.value} ({self.note})" if self.note else self.value


def nvidia_driver(raw: str) -> str:
    """nsys stores NvDriverVersion as "580.95.05" since 2023 and as one integer before (52510517 = 525.105.17)."""
    raw = str(raw).strip()
    if raw.isdigit() and len(raw) >= 7:
        v = int(raw)
        return f"{v // 100000}.{(v // 100) % 1000:02d}.{v % 100:02d}"
    return raw


def cuda_version(raw: Any) -> str:
    """CUDA's integer version (12080, as cudaDriverGetVersion returns it) as 12.8; dotted strings pass through."""
    text = str(raw).strip()
    if text.isdigit() and len(text) >= 4:
        v = int(text)
        return f"{v // 1000}.{(v % 1000) // 10}"
    return text


def _gpu_info_names(meta: dict[str, str]) -> list[str]:
    try:
        names = json.loads(meta.get("gpu_names") or "[]")
    except ValueError:
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def _names(names: list[str]) -> str:
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return ", ".join(f"{c}× {n}" if c > 1 else n for n, c in sorted(counts.items()))


def _distinct(values) -> list:
    return sorted({v for v in values if v is not None and v == v})


def collect(devices: list[dict], meta: dict[str, str], source_format: str, used_devices: list[int]) -> list[Fact]:
    """The header facts from the model's device rows and trace facts."""
    # A bundle is named "inferscope-bundle + nsys-..." when it holds nsys's report, and "... (Python samples
    # only)" when it does not; neither is a PyTorch profiler trace, whose reasons were given for both.
    nsys = source_format.startswith("nsys") or "+ nsys" in source_format
    samples_only = "Python samples only" in source_format
    no_table = (
        "not in this export (no TARGET_INFO_GPU table)"
        if nsys
        else "not in this trace (no deviceProperties in the profiler metadata)"
    )
    system_env = meta.get("system_env") == "present"
    host = meta.get("hostname") or meta.get("capture.device_display_name")
    if samples_only:  # one reason for every GPU fact, said once
        gpu = Fact("GPU", None, "not recorded: the bundle holds Python samples only (no nsys report)")
        return [gpu, *([Fact("Host name", host)] if host else [])]
    facts: list[Fact] = []

    # Facts describe the GPUs that ran work: a trace may list every GPU of the node (Kineto's deviceProperties,
    # nsys TARGET_INFO_GPU) while one of them was used, and "8 GPUs" then misleads; both counts are given.
    active = [d for d in devices if d.get("device_id") in set(used_devices)] if used_devices else []
    described = active or devices
    names = [d["name"] for d in described if d.get("name")]
    if names:
        facts.append(Fact("GPU", _names(names)))
    elif _gpu_info_names(meta):
        facts.append(Fact("GPU", _names(_gpu_info_names(meta)), "from TARGET_INFO_SYSTEM_ENV GpuInfo"))
    else:
        facts.append(Fact("GPU name", None, no_table))

    ids = ", ".join(str(i) for i in used_devices)
    if devices and used_devices and len(used_devices) != len(devices):
        facts.append(
            Fact(
                "GPUs",
                f"{len(used_devices)} active of {len(devices)} listed",
                f"device id{'s' if len(used_devices) > 1 else ''} {ids} ran kernels or copies; the others are only "
                "in the trace's device table",
            )
        )
    elif devices:
        facts.append(Fact("GPUs", str(len(devices))))
    elif used_devices:
        facts.append(Fact("GPUs", str(len(used_devices)), f"device ids {ids} seen in kernels and copies"))
    else:
        facts.append(Fact("GPUs", None, "no GPU activity and no device table in this trace"))

    missing = no_table if not devices else "not recorded for these devices"
    sms = _distinct(d.get("sm_count") for d in described)
    if sms:
        facts.append(Fact("SMs", " / ".join(f"{int(s):,}" for s in sms) + (" per GPU" if len(described) > 1 else "")))
    else:
        facts.append(Fact("SM count", None, missing))

    # compute capability only from the device table: a kernel name's sm_80 tag says what the kernel was built
    # for, which later GPUs run too (an H100 running sm80_ kernels is not 8.0)
    caps = _distinct(
        (d["compute_major"], d.get("compute_minor") or 0) for d in described if d.get("compute_major") is not None
    )
    amd = any("AMD" in (d.get("name") or "") or "Radeon" in (d.get("name") or "") for d in described)
    if caps:
        text = " / ".join(f"{major}.{minor}" for major, minor in caps)
        facts.append(Fact("Compute capability", text, "gfx architecture as ROCm reports it" if amd else ""))
    else:
        facts.append(Fact("Compute capability", None, f"unknown: {missing}"))

    memory = _distinct(d.get("total_memory_bytes") for d in described)
    if memory:
        facts.append(Fact("GPU memory", " / ".join(f"{m / 2**30:.1f} GiB" for m in memory)))

    driver = meta.get("driver_version") or meta.get("nvidia_driver_version")
    if driver and driver.strip("0. "):  # nsys writes 0 where no NVIDIA driver was loaded
        facts.append(Fact("Driver", nvidia_driver(driver)))
    elif nsys and driver:
        facts.append(Fact("Driver version", None, "no NVIDIA driver was loaded where this was recorded (nsys wrote 0)"))
    elif nsys:
        facts.append(
            Fact(
                "Driver version",
                None,
                "not in this export (no NvDriverVersion in TARGET_INFO_SYSTEM_ENV)"
                if system_env
                else "not in this export (no TARGET_INFO_SYSTEM_ENV table)",
            )
        )
    else:
        facts.append(
            Fact("Driver version", None, "not recorded by the PyTorch profiler (it stores CUDA versions only)")
        )

    runtime = meta.get("cuda_runtime_version")
    driver_api = meta.get("cuda_driver_version")
    if runtime or driver_api:
        parts = []
        if runtime:
            parts.append(f"{cuda_version(runtime)} runtime")
        if driver_api and cuda_version(driver_api) != (cuda_version(runtime) if runtime else None):
            parts.append(f"{cuda_version(driver_api)} driver API")
        elif driver_api and runtime:
            parts[-1] = f"{cuda_version(runtime)} runtime and driver API"
        facts.append(Fact("CUDA", ", ".join(parts) if runtime else f"{cuda_version(driver_api)} (driver API)"))
    else:
        facts.append(
            Fact(
                "CUDA version",
                None,
                (
                    "not in this export (no CudaDriverVersion in TARGET_INFO_SYSTEM_ENV)"
                    if system_env
                    else "not in this export (no TARGET_INFO_SYSTEM_ENV table)"
                )
                if nsys
                else "not in this trace's metadata (cuda_runtime_version / cuda_driver_version absent)",
            )
        )

    if host:
        facts.append(Fact("Host name", host))
    return facts


def from_trace(trace: "Trace") -> list[Fact]:
    """Facts for a report built from an open trace."""
    devices = trace.engine.query("SELECT * FROM devices ORDER BY device_id").to_pylist()
    used = [
        r["device_id"]
        for r in trace.engine.query(
            "SELECT DISTINCT device_id FROM (SELECT device_id FROM kernels UNION ALL SELECT device_id FROM memcpy "
            "UNION ALL SELECT device_id FROM memset) WHERE device_id IS NOT NULL ORDER BY 1"
        ).to_pylist()
    ]
    # the format as ingest described it ("inferscope-bundle + nsys-sqlite"): trace.format says only "bundle"
    return collect(devices, trace.meta, trace.meta.get("source_format") or trace.format, used)


def from_analysis(analysis: "Analysis") -> list[Fact]:
    """Facts from an analysis alone (the terminal summary without its trace): the device rows it carries."""
    rows = analysis.devices.to_pylist() if analysis.devices.num_rows else []
    devices = [r for r in rows if r.get("name") or r.get("sm_count")]
    # gpu_device_summary lists described devices without work too: active means it ran an operation
    used = _distinct(
        r.get("device_id")
        for r in rows
        if (r.get("kernel_count") or 0) + (r.get("memcpy_count") or 0) + (r.get("memset_count") or 0) > 0
    )
    facts = collect(devices, {}, analysis.source_format, used)
    unknown = "not in the analysis (the trace's metadata is needed; render with the trace)"
    return [
        Fact(f.label, None, unknown) if f.value is None and f.label in ("Driver version", "CUDA version") else f
        for f in facts
    ]
