"""Saved baselines: one side's samples in a small file that stands in for its traces as BASE (or NEW).

A CI job that gates every pull request against main would otherwise keep main's whole traces around (hundreds of
megabytes of nsys export) and convert them again on every run. What the gate reads of a side is far smaller: each
trace reduced by `samples.extract` (per-step times, per-call kernel samples, range samples, the analysis
metrics, the warm-up steps left out, the op shapes), plus what the report says about the side without its rows
(the environment, which the hardware check needs, and the data-quality counts). A baseline holds exactly that, so
`compare(baseline, new)` computes the same rows, from the same numbers, as `compare(base_traces, new)`.

Form: one Parquet file (zstd). Its rows are the series (run, metric, scope, key, device, share, samples); its
key-value metadata `inferscope.baseline` is a JSON header: `format`, `baseline_version`, the release that wrote
it, the settings the samples were taken with, and (`runs_zlib`: zlib-compressed JSON, base64) each run's counts,
environment, data-quality counts, window, warm-up steps, op shapes and analysis metrics.

Compatibility policy (docs/ci.md): `baseline_version` names the form and the way samples are measured. Adding a
field keeps the version; removing or renaming one, or changing how a sample is measured (what a step time runs to,
the warm-up rule, how names are matched), bumps it, because a baseline measured the old way would compare unlike
with like. A release reads the versions in READABLE; any other fails in one line that says how to save it again.

The samples depend on the settings they were taken with (template stripping, step patterns, the window, ...), so
a baseline records them and is refused, in one line, by a comparison that asks for different ones: matching
stripped names against unstripped ones would read as kernels added and removed.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CompareError
from .sample_summary import SampleSummary
from .samples import RunData

FORMAT = "inferscope-compare-baseline"
BASELINE_VERSION = "1"
# Version 2 adds summarised series (sample_summary): rows whose samples are a name's order statistics, with its
# count and exact sums beside them. A baseline is written as version 2 only when it holds such a row, so that a
# release which reads version 1 alone refuses it rather than taking 10,000 order statistics for the samples.
SUMMARY_VERSION = "2"
READABLE = ("1", "2")
META_KEY = b"inferscope.baseline"
_PARQUET_MAGIC = b"PAR1"
_SAVE_AGAIN = "save it again from the traces it came from: inferscope compare BASE_TRACES NEW_TRACES --save-base {path}"

# setting -> how the command line spells it, for the refusal when a comparison asks for other settings
_SETTINGS = {
    "strip_templates": "--strip-templates",
    "analysis_metrics": "analysis metrics (--no-analysis-metrics)",
    "step_patterns": "--step-pattern",
    "phase_patterns": "phase patterns (configuration)",
    "comm_patterns": "communication families ([communication] configuration)",
    "serving_patterns": "serving step patterns ([serving] configuration)",
    "window": "--window",
    "skip_warmup": "--skip-warmup",
}


def settings(
    strip_templates,
    analysis_metrics,
    step_patterns,
    phase_patterns,
    window,
    skip_warmup,
    comm_patterns=None,
    serving_patterns=None,
) -> dict:
    """The settings that change what `extract` samples, in a form that compares equal when they do the same.
    Communication families and serving step patterns appear only when configured, so that other baselines are
    written as before (one saved before them reads as saved without them)."""
    out = {
        "strip_templates": bool(strip_templates),
        "analysis_metrics": bool(analysis_metrics),
        "step_patterns": list(step_patterns) if step_patterns else None,
        "phase_patterns": {k: list(v) for k, v in sorted(dict(phase_patterns).items())} if phase_patterns else None,
        "window": None if window is None else str(window),
        "skip_warmup": bool(skip_warmup),
    }
    if comm_patterns:  # in the configuration's order, which sets the families' priority (analyze._custom_comm_patterns)
        out["comm_patterns"] = [[k, list(v)] for k, v in dict(comm_patterns).items()]
    if serving_patterns:
        out["serving_patterns"] = list(serving_patterns)
    return out


@dataclass
class SavedRun:
    """One trace's part of a baseline: its reduced samples and what the report says about it."""

    run: RunData
    environment: dict
    quality: dict  # Trace.quality() of the trace
    window: str | None  # the part of the trace the samples cover, in words (None: all of it)


@dataclass
class Baseline:
    path: Path
    header: dict
    runs: list[SavedRun]

    @property
    def settings(self) -> dict:
        return self.header["settings"]

    def fresh_runs(self) -> list[RunData]:
        """Copies of the runs: the gate adds series to a run and drops some, and a Baseline may be compared twice."""
        out = []
        for s in self.runs:
            r = s.run
            out.append(
                RunData(
                    r.path,
                    r.format,
                    r.gpus,
                    r.kernels,
                    r.kernel_time_ns,
                    r.ranges,
                    r.steps,
                    r.window_ns,
                    series={k: v.copy() for k, v in r.series.items()},
                    shares=dict(r.shares),
                    analysis=list(r.analysis),
                    warmup=list(r.warmup),
                    shapes={k: dict(v) for k, v in r.shapes.items()},
                )
            )
        return out

    def note(self, role: str) -> str:
        names = ", ".join(Path(s.run.path).name for s in self.runs)
        return (
            f"{role}: the samples of {len(self.runs)} trace(s) ({names}) read from the baseline {self.path.name}, "
            f"saved by inferscope {self.header.get('written_by', '?')}"
        )

    def check(self, wanted: dict, role: str) -> None:
        """Refuse, in one line, a comparison whose settings would sample the other side differently."""
        for key, label in _SETTINGS.items():
            saved, given = self.settings.get(key), wanted.get(key)
            if saved != given:
                raise CompareError(
                    f"{role}: baseline {self.path} was saved with {label} {_shown(saved)}, this comparison uses "
                    f"{_shown(given)}; compare with the baseline's settings, or "
                    + _SAVE_AGAIN.format(path=self.path).replace("--save-base", f"--save-{role}")
                    + " and these settings"
                )


def _shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return json.dumps(value)


def _analysis_dict(m) -> dict:
    return {
        "id": m.id,
        "value": float(m.value),
        "unit": m.unit,
        "polarity": m.polarity,
        "scope": m.scope,
        "device_id": m.device_id,
        "description": m.description,
        "key": m.key,
    }


class Snapshot:
    """A side's runs turned into the baseline's table and header the moment they are extracted (before the gate
    adds or drops series), written only once the comparison has succeeded, so a failed one leaves no file."""

    def __init__(self, runs: list[RunData], environments: list[dict], quality: list[dict], windows, wanted: dict):
        import pyarrow as pa

        from ..version import __version__

        names = ("run", "metric", "scope", "key", "device_id", "share", "samples", "count", "total", "squares")
        cols: dict[str, list] = {k: [] for k in names}
        for i, r in enumerate(runs):
            for sid, values in r.series.items():
                cols["run"].append(i)
                cols["metric"].append(sid[0])
                cols["scope"].append(sid[1])
                cols["key"].append(sid[2])
                cols["device_id"].append(sid[3])
                cols["share"].append(r.shares.get(sid))
                summary = values if isinstance(values, SampleSummary) else None
                cols["samples"].append(np.asarray(summary.values if summary else values, dtype=np.float64))
                cols["count"].append(summary.n if summary else None)
                # exact integers past int64 (a sum of squares of 10M durations): as text
                cols["total"].append(str(summary.total) if summary else None)
                cols["squares"].append(str(summary.squares) if summary else None)
        summarised = any(c is not None for c in cols["count"])
        columns = {
            "run": pa.array(cols["run"], pa.int32()),
            "metric": pa.array(cols["metric"], pa.string()),
            "scope": pa.array(cols["scope"], pa.string()),
            "key": pa.array(cols["key"], pa.string()),
            "device_id": pa.array(cols["device_id"], pa.int64()),
            "share": pa.array(cols["share"], pa.float64()),
            "samples": pa.array(cols["samples"], pa.list_(pa.float64())),
        }
        if summarised:
            columns["count"] = pa.array(cols["count"], pa.int64())
            columns["total"] = pa.array(cols["total"], pa.string())
            columns["squares"] = pa.array(cols["squares"], pa.string())
        self.table = pa.table(columns)
        self.header = {
            "format": FORMAT,
            "baseline_version": SUMMARY_VERSION if summarised else BASELINE_VERSION,
            "written_by": __version__,
            "settings": wanted,
            "runs": [
                {
                    "path": r.path,
                    "format": r.format,
                    "gpus": list(r.gpus),
                    "kernels": r.kernels,
                    "kernel_time_ns": r.kernel_time_ns,
                    "ranges": r.ranges,
                    "steps": r.steps,
                    "window_ns": r.window_ns,
                    "warmup": [float(w) for w in r.warmup],
                    "shapes": r.shapes,
                    "analysis": [_analysis_dict(m) for m in r.analysis],
                    "environment": env,
                    "quality": q,
                    "window": w,
                }
                for r, env, q, w in zip(runs, environments, quality, windows)
            ],
        }

    def write(self, path: str | Path) -> int:
        """Write the baseline all or nothing; its size in bytes."""
        import pyarrow.parquet as pq

        from ..outputs import atomic_write

        path = Path(path).expanduser()
        header = {k: v for k, v in self.header.items() if k != "runs"}
        # the runs' part (mostly the analysis metrics' descriptions) compressed: as plain footer text it was a
        # third of a baseline's bytes
        header["runs_zlib"] = base64.b64encode(zlib.compress(json.dumps(self.header["runs"]).encode(), 9)).decode()
        meta = {META_KEY: json.dumps(header).encode("utf-8")}
        # The header after the rows, where pyarrow >= 15 can put it: in the schema it is stored twice (as the file's
        # key-value metadata and inside the serialised Arrow schema). pyarrow 14 (the floor) can only do that.
        late = hasattr(pq.ParquetWriter, "add_key_value_metadata")
        table = self.table if late else self.table.replace_schema_metadata(meta)
        with atomic_write(path) as fh:
            with pq.ParquetWriter(fh, table.schema, compression="zstd", compression_level=9) as writer:
                writer.write_table(table)
                if late:
                    writer.add_key_value_metadata(meta)
        return path.stat().st_size


def looks_like_baseline(path: Path) -> bool:
    """True for a file compare must read as a baseline rather than a trace: a Parquet file (no trace format
    InferScope reads is one single Parquet file), told by its magic bytes or, when damaged, by its name."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head == _PARQUET_MAGIC or path.name.endswith(".parquet")


def load(path: str | Path) -> Baseline:
    """Read a baseline, whatever release wrote it, or fail in one line that says what to do."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    again = _SAVE_AGAIN.format(path=path)
    try:
        with pq.ParquetFile(path) as f:
            raw = (f.metadata.metadata or {}).get(META_KEY)
            table = f.read()
    except (OSError, pa.ArrowException) as exc:
        raise CompareError(f"{path}: damaged baseline ({_first_line(exc)}); {again}") from None
    try:
        header = json.loads(raw) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CompareError(f"{path}: damaged baseline (its header is not JSON); {again}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CompareError(
            f"{path}: a Parquet file but not an InferScope baseline; give a trace, or a baseline written by "
            "inferscope compare --save-base FILE or --save-new FILE"
        )
    version = str(header.get("baseline_version"))
    if version not in READABLE:
        raise CompareError(
            f"{path}: baseline version {version} (written by inferscope {header.get('written_by', '?')}) is not one "
            f"this release reads ({', '.join(READABLE)}); upgrade inferscope, or {again}"
        )
    try:
        header["runs"] = json.loads(zlib.decompress(base64.b64decode(header.pop("runs_zlib"), validate=True)))
        return Baseline(path, header, _runs(table, header))
    except (KeyError, TypeError, ValueError, IndexError, zlib.error) as exc:
        raise CompareError(f"{path}: damaged baseline (missing or malformed {exc}); {again}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _runs(table, header: dict) -> list[SavedRun]:
    from ..analyze.result import Metric

    out = []
    for h in header["runs"]:
        run = RunData(
            str(h["path"]),
            str(h["format"]),
            tuple(h["gpus"]),
            int(h["kernels"]),
            int(h["kernel_time_ns"]),
            int(h["ranges"]),
            int(h["steps"]),
            int(h["window_ns"]),
            analysis=[Metric(**m) for m in h["analysis"]],
            warmup=[float(w) for w in h["warmup"]],
            shapes={k: {d: int(c) for d, c in v.items()} for k, v in h["shapes"].items()},
        )
        out.append(SavedRun(run, dict(h["environment"]), dict(h["quality"]), h["window"]))
    cols = {name: table.column(name).to_pylist() for name in ("run", "metric", "scope", "key", "device_id", "share")}
    samples = table.column("samples").combine_chunks()
    flat = samples.values.to_numpy(zero_copy_only=False).astype(np.float64)
    offsets = samples.offsets.to_numpy()
    summarised = "count" in table.column_names
    counts = table.column("count").to_pylist() if summarised else [None] * table.num_rows
    for i in range(table.num_rows):
        run = out[cols["run"][i]].run
        sid = (cols["metric"][i], cols["scope"][i], cols["key"][i], cols["device_id"][i])
        values = flat[offsets[i] : offsets[i + 1]].copy()
        if counts[i] is not None:
            total, squares = (int(table.column(c)[i].as_py()) for c in ("total", "squares"))
            run.series[sid] = SampleSummary(int(counts[i]), total, squares, values)
        else:
            run.series[sid] = values
        if cols["share"][i] is not None:
            run.shares[sid] = float(cols["share"][i])
    return out


def from_side(items: list, role: str, wanted: dict, requests) -> Baseline | None:
    """The side's baseline when it is given one (alone: it stands for the whole side), else None."""
    found = [
        i for i in items if isinstance(i, Baseline) or (isinstance(i, (str, Path)) and looks_like_baseline(Path(i)))
    ]
    if not found:
        return None
    if len(items) > 1:
        raise CompareError(
            f"{role}: a saved baseline stands for the whole side (its repeats included); give it alone, "
            "without other traces"
        )
    try:
        b = found[0] if isinstance(found[0], Baseline) else load(found[0])
    except CompareError as exc:
        raise CompareError(f"{role}: {exc}") from None
    if requests is not None:
        raise CompareError(
            f"{role}: --{role}-requests does not apply to a saved baseline: the requests it was saved with are in it"
        )
    b.check(wanted, role)
    return b
