"""`inferscope record`: run a workload under Nsight Systems and the Python sampler, leaving a bundle directory.

Imports only recorders/ and the standard library (plus typer for the command line), so recording on the GPU box
needs neither DuckDB nor pyarrow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import OutAliasOpt, app, fail, output_or_alias


@app.command(context_settings={"allow_interspersed_args": False})
def record(
    ctx: typer.Context,
    cmd: Annotated[list[str], typer.Argument(help="The workload command (after --).", show_default=False)],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Bundle directory to create (default: ./inferscope-record-DATE-TIME).",
            show_default=False,
        ),
    ] = None,
    out: OutAliasOpt = None,
    sample_rate: Annotated[
        float,
        typer.Option(
            "--sample-rate", metavar="HZ", help="Python stack samples per second and thread (0 disables the sampler)."
        ),
    ] = 100.0,
    no_nsys: Annotated[
        bool,
        typer.Option("--no-nsys", help="Do not run Nsight Systems; record Python samples only (their own timeline)."),
    ] = False,
    nsys_args: Annotated[
        str,
        typer.Option(
            "--nsys-args",
            metavar='"ARGS"',
            help="Extra `nsys profile` arguments, one string; "
            "an option given here replaces InferScope's default for it.",
        ),
    ] = "",
    duration: Annotated[
        Optional[float],
        typer.Option(
            "--duration",
            metavar="S",
            help="Stop the workload (as Ctrl-C would) after this many seconds; the exit code is then 0.",
        ),
    ] = None,
    sampler: Annotated[
        str,
        typer.Option(
            "--sampler",
            metavar="MODE",
            help="auto (out-of-process when permitted, else in-process), remote, inprocess or none.",
        ),
    ] = "auto",
    keep_secrets: Annotated[
        bool,
        typer.Option(
            "--keep-secrets",
            help="DANGEROUS: store command lines and environments in the bundle unredacted (tokens, passwords, "
            "*_KEY variables); reports stay redacted. See docs/secrets.md.",
        ),
    ] = False,
    drop_nsys_rep: Annotated[
        bool,
        typer.Option(
            "--drop-nsys-rep",
            help="Remove profile.nsys-rep, which holds the environment and command line unredacted, once its "
            "redacted SQLite export is written (the bundle then no longer opens in Nsight Systems).",
        ),
    ] = False,
    gpu_metrics: Annotated[
        Optional[str],
        typer.Option(
            "--gpu-metrics",
            metavar="DEVICES",
            help="Sample the GPUs' hardware counters (SMs active, Tensor Cores, DRAM and PCIe bandwidth, clocks) "
            "with nsys: all, cuda-visible, or indices like 0,1. Needs root or unrestricted profiling counters; the "
            "manifest records what was asked and how many samples came back.",
            show_default=False,
        ),
    ] = None,
    gpu_metrics_frequency: Annotated[
        Optional[int],
        typer.Option(
            "--gpu-metrics-frequency",
            metavar="HZ",
            help="Samples per second for --gpu-metrics (10 to 200000; default 10000).",
            show_default=False,
        ),
    ] = None,
    gpu_metrics_set: Annotated[
        Optional[str],
        typer.Option(
            "--gpu-metrics-set",
            metavar="NAME",
            help="nsys metric set for --gpu-metrics (`nsys profile --gpu-metrics-set=help` lists them; default: "
            "the GPU's own).",
            show_default=False,
        ),
    ] = None,
    requests: Annotated[
        Optional[Path],
        typer.Option(
            "--requests",
            metavar="FILE",
            help="The load generator's request file (AIPerf profile_export.jsonl, GenAI-Perf profile_export.json) "
            "that CMD writes: copied into the bundle when CMD ends, and joined to the trace by `inferscope analyze "
            "BUNDLE`. A file missing then costs a warning, not the bundle.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run CMD under nsys and the Python sampler and write a bundle that `inferscope analyze` reads.

    Exit code: the workload's; 3 when nsys left no report (the bundle is marked incomplete); 2 for a usage error.

    Example: inferscope record -o run1 -- python serve.py --batch 8
    """
    from recorders.record import RecordError, RecordOptions
    from recorders.record import record as run_record

    if sampler not in ("auto", "remote", "inprocess", "none"):
        fail(f"unknown --sampler {sampler!r}; use auto, remote, inprocess or none")
    opts = RecordOptions(
        out=output_or_alias(ctx, output, out),
        sample_rate=sample_rate,
        use_nsys=not no_nsys,
        nsys_args=nsys_args,
        duration=duration,
        sampler=sampler,
        keep_secrets=keep_secrets,
        drop_nsys_rep=drop_nsys_rep,
        gpu_metrics=gpu_metrics,
        gpu_metrics_frequency=gpu_metrics_frequency,
        gpu_metrics_set=gpu_metrics_set,
        requests=requests,
    )
    try:
        code = run_record(list(cmd), opts)
    except RecordError as exc:
        fail(str(exc))
    raise typer.Exit(code)
