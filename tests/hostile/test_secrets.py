"""Secrets on command lines and in environments never reach a bundle file or a report (issue 17, item 2).

A real `inferscope record` with the real nsys (`-t osrt`, no GPU needed) runs a workload given `--token=...`,
`--password ...`, a URL with a password and an `*_API_KEY` variable, then every file of the bundle is scanned
byte for byte (gzip files decompressed) and every report format is checked. The .nsys-rep is the documented
exception (nsys records the environment and its format cannot be edited): it holds them unless --drop-nsys-rep.
The bundled sample export carries `*_SECRET`/`*_API_KEY` variables of its own, read here with sqlite3.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from inferscope.redact import REDACTED, redact_argv, redact_env_block, redact_text, redact_value
from recorders.redact import scrub_nsys_sqlite
from tests.conftest import SAMPLES, needs_nsys, run_cli

# real recordings, signals, mounts or every output format: once in CI, not per Python variant
pytestmark = pytest.mark.heavy

SECRETS = {
    "token": "tokVALUEa1b2",
    "password": "hunter2PWxyz",
    "url": "urlPWq9z8",
    "env": "s3cr3tENVk7",
}
WORKLOAD_ARGS = [
    "--token=" + SECRETS["token"],
    "--password",
    SECRETS["password"],
    f"https://u:{SECRETS['url']}@host/x",
]
NSYS_ARGS = "-t osrt -s none --cpuctxsw=none"
SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _record(tmp: Path, name: str, *options: str) -> Path:
    bundle = tmp / name
    proc = run_cli(
        "record",
        "-o",
        bundle,
        "--nsys-args",
        NSYS_ARGS,
        *options,
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(0.3)",
        *WORKLOAD_ARGS,
        env={"INFERSCOPE_TEST_API_KEY": SECRETS["env"]},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return bundle


def _holders(bundle: Path) -> dict[str, set[str]]:
    """Secret kind -> bundle files (relative) whose bytes contain it, gzip members read decompressed."""
    found: dict[str, set[str]] = {k: set() for k in SECRETS}
    for f in bundle.rglob("*"):
        if not f.is_file():
            continue
        data = f.read_bytes()
        if f.suffix == ".gz":
            data += gzip.decompress(data)
        for kind, secret in SECRETS.items():
            if secret.encode() in data:
                found[kind].add(str(f.relative_to(bundle)))
    return found


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is not installed")
    tmp = tmp_path_factory.mktemp("secrets")
    return {
        "default": _record(tmp, "default"),
        "dropped": _record(tmp, "dropped", "--drop-nsys-rep"),
        "kept": _record(tmp, "kept", "--keep-secrets"),
    }


def test_rules_on_their_own():
    """The rules the recorder and the ingest share, on the forms the issue lists and on look-alikes that must stay
    (a broken `--max-tokens 5` or `key=len` would make reports misleading)."""
    argv = ["--token", "a", "--api_key=b", "--hf-token", "c", "--max-tokens", "5", "--auth", "--port", "80"]
    assert redact_argv(argv) == [
        "--token",
        REDACTED,
        f"--api_key={REDACTED}",
        "--hf-token",
        REDACTED,
        "--max-tokens",
        "5",
        "--auth",
        "--port",
        "80",
    ]
    assert redact_text("curl -H 'Authorization: Bearer abc.def' https://me:pw@h/x") == (
        f"curl -H 'Authorization: Bearer {REDACTED}' https://me:{REDACTED}@h/x"
    )
    assert redact_text("env AWS_SECRET_ACCESS_KEY=zz sorted(key=len) TOKENIZERS_PARALLELISM=false") == (
        f"env AWS_SECRET_ACCESS_KEY={REDACTED} sorted(key=len) TOKENIZERS_PARALLELISM=false"
    )
    assert redact_value("DB_PASSWORD", "x") == REDACTED and redact_value("HOME", "/root") == "/root"
    assert redact_env_block("A=1\0MY_TOKEN=t\0B=2") == f"A=1\0MY_TOKEN={REDACTED}\0B=2"
    assert redact_env_block("A=1;X_SECRET=s") == f"A=1;X_SECRET={REDACTED}"


@needs_nsys
def test_bundle_files_hold_no_secret_but_the_nsys_rep(bundles):
    """manifest, procs, samples and profile.sqlite are clean; the .nsys-rep holds what nsys recorded (documented:
    its format cannot be rewritten), and --drop-nsys-rep leaves no file holding any of them."""
    found = _holders(bundles["default"])
    assert all(files <= {"profile.nsys-rep"} for files in found.values()), found
    assert "profile.nsys-rep" in found["env"], "nsys 2022.4 records the environment in the report"
    manifest = json.loads((bundles["default"] / "manifest.json").read_text())
    assert manifest["environment"]["INFERSCOPE_TEST_API_KEY"] == REDACTED
    assert manifest["secrets"]["stored"] == "redacted" and "unredacted" in manifest["secrets"]["nsys_rep"]
    assert manifest["nsys"]["export"]["scrubbed_values"] > 0

    dropped = bundles["dropped"]
    assert not (dropped / "profile.nsys-rep").exists() and (dropped / "profile.sqlite").exists()
    assert _holders(dropped) == {k: set() for k in SECRETS}
    assert json.loads((dropped / "manifest.json").read_text())["secrets"]["nsys_rep"].startswith("dropped")


@needs_nsys
def test_procs_files_are_private(bundles):
    """nsys starts the workload with umask 0; the agent's registrations and thread logs must not be world-writable
    (another user could steer the sampler) nor readable (they hold command lines)."""
    files = list((bundles["default"] / "procs").iterdir()) + list((bundles["default"] / "samples").iterdir())
    assert any(f.suffix == ".json" for f in files)
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, (f, oct(f.stat().st_mode))


def _shown(trace, tmp_path) -> tuple[list[str], str]:
    """Everything a user would see or share of `trace`: analyze as JSON, Markdown and HTML, and a query of
    trace_meta (returned on its own too, as CSV)."""
    outputs = []
    for fmt in ("json", "md", "html"):
        out = tmp_path / f"r.{fmt}"
        proc = run_cli("analyze", trace, "-f", fmt, "-o", out)
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_text())
    proc = run_cli("query", trace, "select key, value from trace_meta", "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    return outputs + [proc.stdout], proc.stdout


@needs_nsys
@pytest.mark.parametrize("name", ["default", "dropped", "kept"])
def test_reports_and_queries_show_no_secret(bundles, tmp_path, name):
    """analyze in every format and a query of trace_meta: the bundle's secrets appear nowhere, whether the bundle
    holds them redacted or raw (--keep-secrets keeps the files raw, never the reports)."""
    outputs, meta_csv = _shown(bundles[name], tmp_path)
    assert "--token=" + REDACTED in meta_csv and f"env.INFERSCOPE_TEST_API_KEY,{REDACTED}" in meta_csv
    for text in outputs:
        for secret in SECRETS.values():
            assert secret not in text


@needs_nsys
def test_keep_secrets_keeps_them_raw(bundles):
    """--keep-secrets is the opt-in: manifest, procs and the export hold the values as given."""
    found = _holders(bundles["kept"])
    for kind in ("token", "password", "url"):
        assert {"manifest.json", "profile.nsys-rep"} <= found[kind] and any(f.startswith("procs/") for f in found[kind])
    assert {"manifest.json", "profile.sqlite"} <= found["env"]
    manifest = json.loads((bundles["kept"] / "manifest.json").read_text())
    assert manifest["environment"]["INFERSCOPE_TEST_API_KEY"] == SECRETS["env"]
    assert manifest["secrets"]["stored"].startswith("unredacted")


def _sample_secrets() -> dict[str, str]:
    """The `*_SECRET` / `*_API_KEY` variables the bundled sample export recorded, as nsys stored them."""
    with sqlite3.connect(f"file:{SAMPLE}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT CAST(value AS BLOB) FROM META_DATA_CAPTURE WHERE name LIKE '%ENVIRONMENT_VARIABLE'"
        ).fetchall()
    found = {}
    for (value,) in rows:
        name, _, raw = bytes(value).decode().partition("=")
        if re.search(r"_SECRET$|_API_KEY$", name):
            found[name] = raw.strip('"')
    return found


def test_sample_export_secrets_stay_out_of_reports(tmp_path):
    """The bundled sample's secret variables: trace_meta shows them redacted, and no report or query output
    carries their values or a raw NAME=value pair."""
    secrets = _sample_secrets()
    assert secrets and any(secrets.values()), "the sample is expected to hold *_SECRET/*_API_KEY values"
    outputs, meta_csv = _shown(SAMPLE, tmp_path)
    for name in secrets:
        assert f"env.{name},{REDACTED}" in meta_csv
    for text in outputs:
        for name, value in secrets.items():
            assert f"{name}={value}" not in text and f'{name}="{value}"' not in text
            if value:
                assert value not in text


def test_scrubbing_the_sample_export(tmp_path):
    """The recorder's scrub of an nsys export, on the sample: no byte of the file holds a secret value afterwards
    (nsys leaves stale copies in unused page space, hence the VACUUM), and it still analyses."""
    secrets = _sample_secrets()
    copy = tmp_path / "sample.sqlite"
    copy.write_bytes(SAMPLE.read_bytes())
    assert scrub_nsys_sqlite(str(copy)) > 0
    data = copy.read_bytes()
    for name, value in secrets.items():
        assert f"{name}={REDACTED}".encode() in data or f'{name}="{REDACTED}"'.encode() in data
        if value:  # an empty value is a prefix of its redacted form: nothing more to look for
            assert value.encode() not in data and f"{name}={value}".encode() not in data
    proc = run_cli("analyze", copy, "-f", "json")
    assert proc.returncode == 0, proc.stderr
