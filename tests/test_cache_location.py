"""Where the cache lives (never beside the trace), what keys an entry (content, not path or mtime), and the
`inferscope cache` commands. Every test runs the real conversion on real traces; the cache root is chosen only
through what a user has: $XDG_CACHE_HOME / $HOME, $INFERSCOPE_CACHE_DIR and --cache-dir."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

import inferscope
from inferscope import ingest
from inferscope.engine import cache

from .conftest import KINETO_TRACES, NSYS_TRACES, SAMPLES as REPO_SAMPLES, needs_shared, run_cli

pytestmark = needs_shared
SMALL = NSYS_TRACES / "nsys_ai_mock.sqlite"
KINETO = KINETO_TRACES / "alexnet_cuda_sync.json.gz"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path, monkeypatch):
    """A private HOME and XDG cache for every test (also seen by the CLI subprocesses, which inherit os.environ),
    so nothing reaches the real user cache and each test starts from an empty one."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    return tmp_path / "xdg" / "inferscope"


def _snapshot(directory: Path) -> dict:
    """Every path under `directory` with its size and mtime: any write beside the trace changes it."""
    out = {}
    for p in sorted(directory.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(directory))] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    out["."] = directory.stat().st_mtime_ns
    return out


def _copy(src: Path, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    dst = directory / name
    shutil.copy(src, dst)
    dst.chmod(0o644)
    return dst


def _kernel_count(trace: Path, *extra: str) -> int:
    proc = run_cli("query", trace, "SELECT count(*) AS n FROM kernels", "-f", "csv", *extra)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.splitlines()[1])


def _db_kernels(trace: Path) -> int:
    con = sqlite3.connect(trace)
    try:
        return con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------- location


def test_cli_writes_nothing_beside_the_trace(tmp_path, _user_dirs):
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    before = _snapshot(trace.parent)
    assert _kernel_count(trace) == _db_kernels(trace)
    assert _kernel_count(trace) == _db_kernels(trace)  # and again from the cache
    assert _snapshot(trace.parent) == before
    made = [e for e in cache.entries()]
    assert len(made) == 1 and made[0].path.parent == _user_dirs and made[0].source == str(trace.resolve())


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG layout is the Linux/Unix convention")
def test_home_dot_cache_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    t = inferscope.open(trace)
    assert t.cache_entry.parent == tmp_path / "home" / ".cache" / "inferscope"
    proc = run_cli("cache", "path")
    assert proc.returncode == 0 and proc.stdout.strip() == str(tmp_path / "home" / ".cache" / "inferscope")


def test_relative_xdg_is_ignored(tmp_path, monkeypatch):
    """The XDG spec: a relative XDG_CACHE_HOME is invalid; a cache under the working directory would be a
    cache beside whatever the user happens to be analysing."""
    if sys.platform in ("win32", "darwin"):
        pytest.skip("XDG applies to Linux/Unix")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache.default_root() == tmp_path / "home" / ".cache" / "inferscope"


def test_platform_conventions(tmp_path, monkeypatch):
    """macOS and Windows keep per-user caches elsewhere; the branch is chosen by sys.platform at call time."""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cache.default_root() == Path(os.path.expanduser("~")) / "Library" / "Caches" / "inferscope"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    assert cache.default_root() == tmp_path / "AppData" / "Local" / "inferscope" / "Cache"


def test_env_var_and_cache_dir_override(tmp_path, monkeypatch, _user_dirs):
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    before = _snapshot(trace.parent)
    env_dir, opt_dir = tmp_path / "from-env", tmp_path / "from-option"
    monkeypatch.setenv(cache.ENV_VAR, str(env_dir))
    n = _kernel_count(trace)
    assert [e.path.parent for e in cache.entries()] == [env_dir]
    assert _kernel_count(trace, "--cache-dir", str(opt_dir)) == n  # the option beats the variable
    assert [e.path.parent for e in cache.entries(opt_dir)] == [opt_dir]
    assert not _user_dirs.exists()
    assert _snapshot(trace.parent) == before
    paths = {
        origin: run_cli("cache", "path", *args).stdout.strip()
        for origin, args in (("env", ()), ("option", ("--cache-dir", str(opt_dir))))
    }
    assert paths == {"env": str(env_dir), "option": str(opt_dir)}


def test_read_only_input_directory(tmp_path, _user_dirs):
    """Shared trace folders are often read-only (and look writable to root): the cache never needs them."""
    ro = tmp_path / "ro"
    trace = _copy(SMALL, ro, "t.sqlite")
    trace.chmod(0o444)
    ro.chmod(0o555)
    try:
        before = _snapshot(ro)
        assert _kernel_count(trace) == _db_kernels(trace)
        assert _snapshot(ro) == before
        assert len(cache.entries()) == 1
    finally:
        ro.chmod(0o755)


def test_shared_read_only_traces_untouched(_user_dirs):
    """The real read-only shared folder: a kineto trace there converts into the user cache only."""
    before = _snapshot(KINETO.parent)
    proc = run_cli("stats", KINETO, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(KINETO.parent) == before
    assert [e.format for e in cache.entries()] == ["kineto"]


def test_unusable_cache_location_is_one_line(tmp_path, monkeypatch):
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV_VAR, str(blocker))
    for args in (("query", trace, "SELECT 1"), ("cache", "list")):
        proc = run_cli(*args)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert str(blocker) in lines[0] and cache.ENV_VAR in lines[0]


# ---------------------------------------------------------------------------------------------------- keying


def test_same_size_same_mtime_edit_is_not_served_stale(tmp_path):
    """An edit in the middle of a file (beyond the sampled head and tail), same size, mtime forged back as
    `cp -p` or `touch -r` would: the ctime in the witness changes, the full digest differs, a new entry is built."""
    trace = tmp_path / "traces" / "a.json"
    trace.parent.mkdir()
    text = gzip.decompress(KINETO.read_bytes()).decode()
    trace.write_text(text)
    first = inferscope.open(trace)
    total = first.sql("SELECT sum(dur_ns) AS d FROM kernels")["d"][0]
    # one kernel's one-digit duration, well away from the 64 KiB the key samples at either end
    m = next(
        m
        for m in re.finditer(r'"cat": "kernel".*?"dur": (\d),', text, re.S)
        if 2 * cache.SAMPLE_BYTES < m.start(1) < len(text) - 2 * cache.SAMPLE_BYTES and m.group(1) != "9"
    )
    edited = text[: m.start(1)] + str(int(m.group(1)) + 1) + text[m.end(1) :]
    assert len(edited) == len(text)
    st = trace.stat()
    trace.write_text(edited)
    os.utime(trace, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert trace.stat().st_size == st.st_size and trace.stat().st_mtime_ns == st.st_mtime_ns
    second = inferscope.open(trace)
    assert second.cache_entry != first.cache_entry
    assert second.cache_entry.name.split("-")[0] == first.cache_entry.name.split("-")[0]  # same sample, new digest
    assert second.sql("SELECT sum(dur_ns) AS d FROM kernels")["d"][0] == total + 1000


def test_replaced_by_another_file_with_same_size_and_mtime(tmp_path):
    """A trace swapped for a re-export of the same size (moved into place, mtime copied from the old one)."""
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    first = inferscope.open(trace)
    other = _copy(SMALL, tmp_path / "work", "t.sqlite")
    con = sqlite3.connect(other)
    con.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET end = end + 1000 WHERE rowid = (SELECT min(rowid) FROM "
        "CUPTI_ACTIVITY_KIND_KERNEL)"
    )
    con.commit()
    con.close()
    assert other.stat().st_size == trace.stat().st_size
    st = trace.stat()
    os.replace(other, trace)
    os.utime(trace, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = inferscope.open(trace)
    assert second.cache_entry != first.cache_entry
    got = second.sql("SELECT sum(dur_ns) AS d FROM kernels")["d"][0]
    assert got == first.sql("SELECT sum(dur_ns) AS d FROM kernels")["d"][0] + 1000


def test_moved_or_touched_trace_reuses_its_entry(tmp_path, monkeypatch):
    """Content identity: a trace moved to another folder, or touched, is not converted again."""
    trace = _copy(SMALL, tmp_path / "a", "t.sqlite")
    first = inferscope.open(trace).cache_entry

    def _fail(*a, **k):
        raise AssertionError("converted again although the cache holds these bytes")

    monkeypatch.setattr(ingest, "iter_tables", _fail)
    moved = tmp_path / "b" / "renamed.sqlite"
    moved.parent.mkdir()
    shutil.move(trace, moved)
    assert inferscope.open(moved).cache_entry == first
    os.utime(moved)
    assert inferscope.open(moved).cache_entry == first
    [entry] = cache.entries()
    assert entry.source == str(moved.resolve())
    assert str(trace.resolve()) in entry.sources


def test_trace_changing_during_conversion_is_not_cached(tmp_path):
    """A trace still being written (an export in progress) must not leave an entry keyed to bytes it no
    longer has."""
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    real = ingest.iter_tables(trace)

    def growing():
        for i, item in enumerate(real):
            if i == 2:
                with trace.open("ab") as f:
                    f.write(b"\0" * 4096)
            yield item

    with pytest.raises(inferscope.TraceInputError, match="changed while it was being converted"):
        cache.store(trace, None, growing())
    root = cache.resolve_root()
    assert not root.exists() or list(root.iterdir()) == []


def test_stale_tmp_directories_are_removed(tmp_path, _user_dirs):
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    _user_dirs.mkdir(parents=True)
    old, fresh = _user_dirs / ".tmp-killed-run", _user_dirs / ".tmp-running"
    for d in (old, fresh):
        d.mkdir()
        (d / "kernels.parquet").write_bytes(b"x" * 100)
    hours_ago = time.time() - 2 * cache.STALE_TMP_SECONDS
    os.utime(old / "kernels.parquet", (hours_ago, hours_ago))
    os.utime(old, (hours_ago, hours_ago))
    inferscope.open(trace)
    assert not old.exists() and fresh.exists()


# ------------------------------------------------------------------------------------------- cache commands


def test_cache_list_path_clear_cli(tmp_path, _user_dirs):
    a = _copy(SMALL, tmp_path / "traces", "a.sqlite")
    b = _copy(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite", tmp_path / "traces", "b.sqlite")
    empty = run_cli("cache", "list")
    assert empty.returncode == 0 and "empty" in empty.stdout
    for t in (a, b):
        assert run_cli("query", t, "SELECT 1 AS one").returncode == 0

    path = run_cli("cache", "path")
    assert path.returncode == 0 and path.stdout.strip() == str(_user_dirs)

    listed = run_cli("cache", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows["cache_dir"] == str(_user_dirs)
    assert sorted(r["source"] for r in rows["entries"]) == [str(a.resolve()), str(b.resolve())]
    for r in rows["entries"]:
        assert r["format"] == "nsys-sqlite" and r["size_bytes"] > 10_000 and r["last_used"] and r["current"]
        assert r["size_bytes"] == sum(f.stat().st_size for f in Path(r["entry"]).rglob("*") if f.is_file())
    table = run_cli("cache", "list")
    assert table.returncode == 0 and "a.sqlite" in table.stdout and "b.sqlite" in table.stdout
    assert "2 entries" in table.stdout

    kept = run_cli("cache", "clear", "--older-than", "1")
    assert kept.returncode == 0 and "nothing to clear" in kept.stdout
    assert len(cache.entries()) == 2

    size_a = next(r["size_bytes"] for r in rows["entries"] if r["source"] == str(a.resolve()))
    one = run_cli("cache", "clear", a)
    assert one.returncode == 0, one.stderr
    assert str(a.resolve()) in one.stdout and "freed" in one.stdout and "in 1 entry" in one.stdout
    assert [e.source for e in cache.entries()] == [str(b.resolve())]
    assert cache.entries()[0].size_bytes > 0 and size_a > 0

    everything = run_cli("cache", "clear")
    assert everything.returncode == 0 and str(b.resolve()) in everything.stdout
    assert cache.entries() == []
    assert a.exists() and b.exists()  # clearing never touches the traces


def test_clear_api_older_than_and_gone_trace(tmp_path):
    a = _copy(SMALL, tmp_path / "traces", "a.sqlite")
    entry = inferscope.open(a).cache_entry
    long_ago = time.time() - 10 * 86400
    os.utime(entry / cache.LAST_USED, (long_ago, long_ago))
    assert cache.clear(older_than_days=30) == []
    a.unlink()  # a deleted trace's entries can still be cleared by its path
    removed = cache.clear([a], older_than_days=5)
    assert [e.path for e in removed] == [entry] and removed[0].size_bytes > 0
    assert not entry.exists()
    with pytest.raises(cache.CacheError, match="--older-than"):
        cache.clear(older_than_days=-1)


def test_clear_removes_old_style_sibling_when_trace_is_named(tmp_path):
    """Caches written beside traces by earlier versions (the shared folder still holds some, written as root)
    are removed when the user names the trace, and listed entries of the new cache are untouched by that."""
    src = KINETO_TRACES / "cpu_only.json.gz"
    if not (KINETO_TRACES / "cpu_only.json.gz.inferscope").is_dir():
        pytest.skip("no old-style cache beside the shared cpu_only.json.gz")
    trace = _copy(src, tmp_path / "traces", "cpu_only.json.gz")
    legacy = trace.parent / "cpu_only.json.gz.inferscope"
    shutil.copytree(KINETO_TRACES / "cpu_only.json.gz.inferscope", legacy)
    for p in [legacy, *legacy.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    proc = run_cli("cache", "clear", trace)
    assert proc.returncode == 0, proc.stderr
    assert "beside the trace" in proc.stdout and not legacy.exists() and trace.exists()


def test_clear_spares_folders_that_are_not_entries(tmp_path):
    """--cache-dir pointed at a folder that also holds other things (here a bundle-like folder with its own
    manifest.json): clearing removes only InferScope's entries."""
    shared = tmp_path / "shared"
    trace = _copy(SMALL, tmp_path / "traces", "t.sqlite")
    inferscope.open(trace, cache_dir=shared)
    bundle = shared / "run1"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"format": "inferscope-bundle", "rows": {}}))
    removed = cache.clear(cache_dir=shared)
    assert len(removed) == 1 and removed[0].source == str(trace.resolve())
    assert (bundle / "manifest.json").exists() and [p.name for p in shared.iterdir()] == ["run1"]


def test_cache_clear_bad_days_is_one_line():
    proc = run_cli("cache", "clear", "--older-than", "soon")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--older-than" in proc.stderr


def test_cache_variable_is_not_read_as_configuration(tmp_path, monkeypatch):
    """INFERSCOPE_<KEY> variables with a double underscore are configuration keys; INFERSCOPE_CACHE_DIR has none
    and must stay out of the configuration's unknown-key check, or setting it would break every command."""
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "c"))
    proc = run_cli("config", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not any("cache" in s["key"] for s in json.loads(proc.stdout)["settings"])


def _nvtx_ranges_named(trace: Path, pattern: str) -> int:
    """NVTX ranges whose name matches `pattern` (Python's re), read from the export with sqlite3."""
    con = sqlite3.connect(trace)
    try:
        names = con.execute(
            "SELECT coalesce(n.text, s.value) FROM NVTX_EVENTS n LEFT JOIN StringIds s ON n.textId = s.id "
            "WHERE n.eventType = 59"  # NvtxPushPopRange
        ).fetchall()
    finally:
        con.close()
    return sum(1 for (name,) in names if name is not None and re.search(pattern, name))


def test_a_changed_configuration_is_not_served_stale(tmp_path, _user_dirs):
    """One cache, three projects in turn: each analysis finds the steps its own inferscope.toml names, counted here
    from the raw export, whatever an earlier run with another configuration left in the cache."""
    trace = REPO_SAMPLES / "annotated_inference_nsys2022.4.sqlite"
    runs = []
    for pattern in ("^sample$", "^prefill ", "^sample$"):
        project = tmp_path / f"project{len(runs)}"
        project.mkdir()
        (project / "inferscope.toml").write_text(f"[steps]\npatterns = [{json.dumps(pattern)}]\n")
        proc = run_cli("analyze", trace, "-f", "json", cwd=project)
        assert proc.returncode == 0, proc.stderr
        runs.append((pattern, len(json.loads(proc.stdout)["steps"]["rows"])))
    assert [n for _, n in runs] == [_nvtx_ranges_named(trace, p) for p, _ in runs]
    assert runs[0][1] != runs[1][1]  # the two configurations do name different steps
    assert len(list(_user_dirs.iterdir())) >= 1  # and they shared one cache
