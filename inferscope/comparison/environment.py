"""What each side ran on, and whether the two are the same hardware.

A comparison across GPU models measures the hardware, not the build: a gate that passes or fails on it teaches
nothing about the change under review. So the environment (GPU model and count, driver, CUDA, profiler and its
version, host name, host CPU, OS, and the cloud or cluster where the recorded environment names one) leads every
report, and a change of GPU model or count makes the result "not comparable" unless the caller declares it
intended. Software and host differences (a host CPU too) are stated, never refused: CI runners move between hosts,
and a driver upgrade may be exactly what is being measured.

Facts come from the model's `devices` and `trace_meta` tables (what the ingest found in the trace); a fact a
trace does not record is left out rather than guessed.
"""

from __future__ import annotations

from ..errors import CompareError

# (key, label, trace_meta keys tried in order)
_META = (
    ("driver", "driver", ("driver_version",)),
    ("cuda_driver", "CUDA (driver API)", ("cuda_driver_version",)),
    ("cuda_runtime", "CUDA runtime", ("cuda_runtime_version",)),
    ("profiler", "profiler", ("source_tool",)),
    ("profiler_version", "profiler version", ("source_version",)),
    ("pytorch", "PyTorch", ("pytorch_version", "torch_version")),
    ("hostname", "host", ("hostname",)),
    ("host_cpu", "host CPU", ("host_cpu",)),
    ("os", "OS", ("os",)),
    ("rank", "rank / world size", ("rank",)),
)


def _modal(env: dict[str, str]) -> str:
    where = [env["MODAL_CLOUD_PROVIDER"].removeprefix("CLOUD_PROVIDER_"), env.get("MODAL_REGION", "")]
    return "Modal on " + ", ".join(w for w in where if w)


# Where the recorded environment variables (nsys keeps them as env.NAME) name the cloud or cluster the run was on:
# (variable, how it reads). The first one present speaks; a trace without them has no row.
_CLOUD = (
    ("MODAL_CLOUD_PROVIDER", _modal),
    ("COLAB_RELEASE_TAG", lambda env: "Google Colab"),
    ("COLAB_GPU", lambda env: "Google Colab"),
    ("SLURM_CLUSTER_NAME", lambda env: f"Slurm cluster {env['SLURM_CLUSTER_NAME']}"),
    ("AWS_REGION", lambda env: f"AWS {env['AWS_REGION']}"),
    ("AWS_DEFAULT_REGION", lambda env: f"AWS {env['AWS_DEFAULT_REGION']}"),
)


def _cuda(value: str) -> str:
    """CUDA's integer versions (13000, 12040) as 13.0 / 12.4; anything else as recorded."""
    if value.isdigit() and len(value) >= 4:
        v = int(value)
        return f"{v // 1000}.{(v % 1000) // 10}"
    return value


def environment(trace) -> dict[str, str]:
    """The recorded facts of one trace as {key: text}; GPU model and count from the devices that ran kernels."""
    from .samples import gpus

    q = trace.engine.query
    out: dict[str, str] = {}
    models = gpus(trace)
    count = q("SELECT count(DISTINCT device_id) AS n FROM kernels").to_pylist()[0]["n"]
    if models:
        out["gpu_model"] = ", ".join(models)
    if count:
        out["gpu_count"] = str(count)
    meta = {r["key"]: r["value"] for r in q("SELECT key, value FROM trace_meta").to_pylist()}
    for key, _, names in _META:
        value = next((meta[n] for n in names if meta.get(n) not in (None, "")), None)
        if value is None:
            continue
        if key.startswith("cuda"):
            value = _cuda(str(value))
        if key == "rank" and meta.get("world_size"):
            value = f"{value} / {meta['world_size']}"
        if key == "host_cpu" and str(meta.get("host_cpu_cores", "")).isdigit():
            value = f"{value}, {meta['host_cpu_cores']} cores"
        out[key] = str(value)
    cloud = _cloud({k.removeprefix("env."): v for k, v in meta.items() if k.startswith("env.") and v})
    if cloud:
        out["cloud"] = cloud
    return out


def _cloud(env: dict[str, str]) -> str | None:
    """The cloud or cluster the recorded environment names (see _CLOUD), or None."""
    return next((read(env) for name, read in _CLOUD if env.get(name)), None)


LABELS = {
    "gpu_model": "GPU model",
    "gpu_count": "GPUs used",
    **{k: label for k, label, _ in _META},
    "cloud": "cloud / cluster",
}
HARDWARE = ("gpu_model", "gpu_count")


def _side_value(envs: list[dict[str, str]], key: str) -> str | None:
    values = sorted({e[key] for e in envs if key in e})
    return " | ".join(values) if values else None


def diff(base: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict]:
    """One row per fact either side records: {key, label, base, new, changed}; an unrecorded side is None."""
    rows = []
    for key, label in LABELS.items():
        b, n = _side_value(base, key), _side_value(new, key)
        if b is None and n is None:
            continue
        rows.append(
            {"key": key, "label": label, "base": b, "new": n, "changed": b is not None and n is not None and b != n}
        )
    return rows


def hardware_change(base: list[dict[str, str]], new: list[dict[str, str]]) -> str | None:
    """The GPU model or count change between the sides, in words; None when the same or not recorded. Repeats
    of one side on different GPU models are refused outright: they are not repeats of one run."""
    for role, envs in (("base", base), ("new", new)):
        models = {e["gpu_model"] for e in envs if "gpu_model" in e}
        if len(models) > 1:
            raise CompareError(
                f"the {role} traces ran on different GPUs ({' vs '.join(sorted(models))}); repeats must come "
                "from the same GPU model"
            )
    changes = []
    for key, what in (("gpu_model", "GPU model"), ("gpu_count", "GPUs used")):
        b, n = _side_value(base, key), _side_value(new, key)
        if b is not None and n is not None and b != n:
            changes.append(f"{what} {b} -> {n}")
    return "; ".join(changes) or None


def unrecorded(base: list[dict[str, str]], new: list[dict[str, str]]) -> str | None:
    """A note when a side does not say which GPU it ran on (the hardware check could not be made)."""
    missing = [role for role, envs in (("base", base), ("new", new)) if not any("gpu_model" in e for e in envs)]
    if missing:
        return f"GPU model not recorded in the {' and '.join(missing)} trace(s): the hardware was not checked"
    return None
