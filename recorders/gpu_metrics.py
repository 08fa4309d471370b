"""`inferscope record --gpu-metrics`: ask nsys to sample the GPU's hardware counters, and check afterwards that it did.

nsys renamed the device option over releases (`--gpu-metrics-device` up to 2023.1, `--gpu-metrics-devices`
after), so the spelling is taken from the installed nsys's own help. Sampling needs a supported GPU and access to
its performance counters (root, or the driver's `NVreg_RestrictProfilingToAdminUsers=0`); when either is missing,
nsys still records the timeline and says little about the counters, so the recorder counts the samples the
export holds and tells the user when there are none, instead of letting `analyze` find out later.
"""

from __future__ import annotations

import re
import sqlite3

DEVICE_OPTIONS = ("--gpu-metrics-devices", "--gpu-metrics-device")  # newest spelling first
FREQUENCY_OPTION = "--gpu-metrics-frequency"
SET_OPTION = "--gpu-metrics-set"
OWN_OPTIONS = (*DEVICE_OPTIONS, FREQUENCY_OPTION, SET_OPTION)
FREQUENCY_RANGE = (10, 200_000)  # Hz, as nsys documents it
DEFAULT_FREQUENCY = 10_000

NO_SAMPLES_WHY = (
    "no GPU was found, its architecture is not supported by this nsys, or its performance counters are restricted "
    "to administrators (run as root, or load the driver with NVreg_RestrictProfilingToAdminUsers=0)"
)


class GpuMetricsError(ValueError):
    """The request cannot be turned into nsys options (the message says what to change)."""


def _check_devices(devices: str) -> str:
    value = devices.strip()
    if value in ("all", "cuda-visible", "none"):
        return value
    if re.fullmatch(r"\d+(,\d+)*", value):
        return value
    raise GpuMetricsError(
        f"--gpu-metrics {devices!r}: use all, cuda-visible, or GPU indices separated by commas (e.g. 0,1)"
    )


def profile_args(
    options: set[str], user_options: set[str], devices: str, frequency: int | None, metric_set: str | None
) -> tuple[list[str], dict]:
    """The nsys options for the request and how it is described in the manifest.

    `options` are the options this nsys documents (recorders/nsys.Capabilities); `user_options` those already in
    --nsys-args, which may not say the same thing a second time.
    """
    clash = sorted(set(OWN_OPTIONS) & user_options)
    if clash:
        raise GpuMetricsError(f"--gpu-metrics and --nsys-args both set {clash[0]}; give it in one place only")
    device_option = next((o for o in DEVICE_OPTIONS if o in options), None)
    if device_option is None:
        raise GpuMetricsError(
            "this nsys does not offer GPU metrics sampling (no --gpu-metrics-devices in `nsys profile --help`); "
            "use Nsight Systems 2021.2 or newer, or drop --gpu-metrics"
        )
    devices = _check_devices(devices)
    freq = DEFAULT_FREQUENCY if frequency is None else int(frequency)
    low, high = FREQUENCY_RANGE
    if not low <= freq <= high:
        raise GpuMetricsError(f"--gpu-metrics-frequency {freq}: nsys samples between {low} and {high} Hz")
    args = [f"{device_option}={devices}", f"{FREQUENCY_OPTION}={freq}"]
    if metric_set:
        if SET_OPTION not in options:
            raise GpuMetricsError("this nsys has no --gpu-metrics-set; drop --gpu-metrics-set to use its default")
        args.append(f"{SET_OPTION}={metric_set}")
    described = {"devices": devices, "frequency_hz": freq, "set": metric_set or "nsys default", "args": args}
    return args, described


def collected(export_path: str) -> dict:
    """What the SQLite export holds of GPU metrics: sample rows, metrics, sampled sources (one per GPU and metric
    set); `why` when none."""
    try:
        con = sqlite3.connect(f"file:{export_path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return {"samples": 0, "why": f"the export could not be opened ({exc})"}
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "GPU_METRICS" not in tables:
            return {"samples": 0, "why": NO_SAMPLES_WHY}
        samples, metrics, sources = con.execute(
            "SELECT count(*), count(DISTINCT metricId), count(DISTINCT typeId) FROM GPU_METRICS"
        ).fetchone()
    except sqlite3.Error as exc:
        return {"samples": 0, "why": f"GPU_METRICS could not be read ({exc})"}
    finally:
        con.close()
    if not samples:
        return {"samples": 0, "why": NO_SAMPLES_WHY}
    return {"samples": samples, "metrics": metrics, "sources": sources}
