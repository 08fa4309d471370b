"""Issue 17: rule SQL is code from whoever wrote it. A user rule may only read the trace with one SELECT (no
files written or read, no ATTACH/INSTALL/LOAD/SET/PRAGMA, no replacing or dropping model views), and rule
directories named by project-local configuration (a file found upward, an INFERSCOPE_* variable) run only when
the user trusts them. Every attack is a real rule file run through the real CLI and through Trace.analyze."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_cli

TRACE = SAMPLES / "h100_2gpu_fastvideo.sqlite"
TOKEN = "sandbox-secret-" + secrets.token_hex(8)

HEADER = "-- rule: {rid}\n-- title: {rid}\n-- severity: low\n-- summary: {{n}} row{{s}}\n-- recommendation: none\n"

BENIGN = """\
-- rule: benign_long_kernels
-- title: Long kernels
-- severity: auto
-- group_by: device_id
-- param min_ns = 0: shortest kernel reported (ns)
-- summary: {n} kernel{s} on {gpu} ran at least {p_min_ns:time}.
-- recommendation: Look at them.
SELECT dur_ns AS impact_ns, start_ns, end_ns, device_id FROM kernels WHERE dur_ns >= $min_ns
"""


def attacks(tmp: Path) -> dict[str, str]:
    """{rule id: SQL body}; every path an attack could touch is under `tmp`, except the /etc reads the issue
    names."""
    secret = tmp / "secret.txt"
    return {
        "copy_to": f"COPY (SELECT 'echo pwned') TO '{tmp / 'x.sh'}'",
        "copy_after_select": f"SELECT 1 AS impact_ns; COPY (SELECT 'echo pwned') TO '{tmp / 'y.sh'}'",
        "attach": f"ATTACH '{tmp / 'attached.db'}' AS stolen",
        "read_text_passwd": "SELECT 1 AS impact_ns, content FROM read_text('/etc/passwd')",
        "read_text_secret": f"SELECT 1 AS impact_ns, content FROM read_text('{secret}')",
        "read_csv_passwd": "SELECT 1 AS impact_ns, * FROM read_csv('/etc/passwd', sep=':', header=false)",
        "read_csv_secret": f"SELECT 1 AS impact_ns, * FROM read_csv('{secret}', header=false)",
        "replacement_scan": f"SELECT 1 AS impact_ns, * FROM '{tmp / 'secret.csv'}'",
        "glob_etc": "SELECT 1 AS impact_ns, file FROM glob('/etc/*')",
        "glob_tmp": f"SELECT 1 AS impact_ns, file FROM glob('{tmp}/*')",
        "getenv_home": "SELECT 1 AS impact_ns, getenv('HOME') AS home",
        "getenv_secret": "SELECT 1 AS impact_ns, getenv('INFERSCOPE_SANDBOX_TOKEN') AS token",
        "nested_read": f"SELECT 1 AS impact_ns WHERE EXISTS (SELECT * FROM (SELECT * FROM read_blob('{secret}')))",
        "query_fn": f"SELECT 1 AS impact_ns FROM query('COPY (SELECT 1) TO ''{tmp / 'z.sh'}''')",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "set_threads": "SET threads = 1",
        "set_memory": "SET memory_limit = '64MB'",
        "pragma": "PRAGMA threads = 1",
        "current_setting": "SELECT 1 AS impact_ns, current_setting('threads') AS t",
        "replace_kernels": "CREATE OR REPLACE VIEW kernels AS SELECT * FROM main.kernels WHERE false",
        "drop_view": "DROP VIEW kernels",
        # found by the issue-17 audit: a cast to an extension's type made DuckDB try to download the extension
        "cast_inet": "SELECT 1 AS impact_ns, '127.0.0.1'::INET AS ip",
        "cast_inet_list": "SELECT 1 AS impact_ns, TRY_CAST('x' AS INET[]) AS ip",
        "summarize_file": f"SELECT 1 AS impact_ns, max AS leaked FROM (SUMMARIZE '{tmp / 'secret.csv'}')",
        "lambda_getenv": "SELECT 1 AS impact_ns, list_transform([1], x -> getenv('HOME')) AS home",
    }


WRITTEN = ("x.sh", "y.sh", "z.sh", "attached.db")


@pytest.fixture
def hostile_dir(tmp_path) -> Path:
    """A rules directory with one file per attack plus the benign rule, and a secret the attacks try to read."""
    (tmp_path / "secret.txt").write_text(TOKEN + "\n")
    (tmp_path / "secret.csv").write_text(f"a\n{TOKEN}\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    for rid, body in attacks(tmp_path).items():
        (rules / f"{rid}.sql").write_text(HEADER.format(rid=rid) + body + "\n")
    (rules / "benign.sql").write_text(BENIGN)
    return rules


def _settings(con) -> dict:
    names = ("threads", "memory_limit", "enable_external_access", "autoinstall_known_extensions")
    return {n: con.execute(f"SELECT current_setting('{n}')").fetchone()[0] for n in names}


def _refused(errors: list[str], rules: Path) -> set[str]:
    """The attack ids whose error line names their own file and says it was refused."""
    out = set()
    for rid in attacks(rules.parent):
        lines = [e for e in errors if str(rules / f"{rid}.sql") in e]
        if lines and all("refused" in e and "\n" not in e for e in lines):
            out.add(rid)
    return out


def test_api_refuses_every_attack_and_runs_the_benign_rule(hostile_dir, open_trace):
    """Through Trace.analyze: each attack is one refused line in rule_errors, nothing is written or read, the
    connection's settings, extensions and model views are as before, and the benign rule still finds kernels."""
    t = open_trace(TRACE)
    con = t.engine.raw
    before = _settings(con)
    extensions = con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1").fetchall()
    kernels = con.execute("SELECT count(*) FROM kernels").fetchone()[0]
    assert kernels > 0

    a = t.analyze(rules_dirs=[str(hostile_dir)])

    assert _refused(a.rule_errors, hostile_dir) == set(attacks(hostile_dir.parent))
    assert not [n for n in WRITTEN if (hostile_dir.parent / n).exists()]
    assert _settings(con) == before
    assert (
        con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1").fetchall() == extensions
    )
    assert con.execute("SELECT count(*) FROM kernels").fetchone()[0] == kernels
    assert con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'stolen'").fetchone()[0] == 0
    benign = [f for f in a.findings if f.rule_id == "benign_long_kernels"]
    assert benign and sum(f.evidence_total for f in benign) == kernels
    assert TOKEN not in json.dumps(a.to_dict(), default=str)


def test_cli_refuses_every_attack_and_runs_the_benign_rule(hostile_dir, cache_dir):
    """Through `inferscope analyze --rules DIR`: exit 0, one warning line per refused file, no secret in the
    report, nothing written, and the benign rule's finding in the JSON."""
    r = run_cli(
        "analyze",
        TRACE,
        "--rules",
        hostile_dir,
        "-f",
        "json",
        "--cache-dir",
        cache_dir,
        env={"INFERSCOPE_SANDBOX_TOKEN": TOKEN},
        cwd=hostile_dir.parent,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    report = json.loads(r.stdout)
    assert _refused(report["rule_errors"], hostile_dir) == set(attacks(hostile_dir.parent))
    warnings = [line for line in r.stderr.splitlines() if "refused" in line]
    assert len(warnings) == len(attacks(hostile_dir.parent))
    assert TOKEN not in r.stdout + r.stderr
    assert "root:" not in r.stdout  # /etc/passwd's first field
    assert "secret.txt" not in r.stdout  # glob over the folder did not list it
    assert not [n for n in WRITTEN if (hostile_dir.parent / n).exists()]
    runs = {run["id"]: run for run in report["rules"]}
    assert runs["benign_long_kernels"]["error"] is None and runs["benign_long_kernels"]["findings"] > 0
    assert runs["gpu_gaps"]["error"] is None  # built-in rules unaffected


def test_every_builtin_rule_passes_the_sandbox_check(open_trace):
    """The allow-list is not narrower than real rules: every built-in rule, checked as if a user wrote it."""
    from inferscope.analyze import rules as R

    con = open_trace(TRACE).engine.con
    builtin, errors = R.discover()
    assert builtin and not errors
    for rule in builtin:
        R.check_sandbox(con, rule)  # raises RuleError naming the rule if refused


# --- project-local configuration --------------------------------------------------------------------------


PROBE = BENIGN.replace("benign_long_kernels", "project_probe")


def _project(tmp_path: Path, text: str, name: str = "inferscope.toml") -> tuple[Path, Path]:
    """A project with a rules directory named by its configuration, and a subfolder to run from."""
    project = tmp_path / "project"
    (project / "perf" / "rules").mkdir(parents=True)
    (project / "perf" / "rules" / "probe.sql").write_text(PROBE)
    (project / name).write_text(text)
    (project / "deep" / "er").mkdir(parents=True)
    return project, project / "deep" / "er"


def _analyze(cwd: Path, cache_dir: Path, home: Path, *extra, env=None):
    r = run_cli(
        "analyze",
        TRACE,
        "-f",
        "json",
        "--cache-dir",
        cache_dir,
        *extra,
        cwd=cwd,
        env={"XDG_CONFIG_HOME": str(home / "config"), "HOME": str(home), **(env or {})},
    )
    assert r.returncode == 0, r.stderr
    ran = {run["id"] for run in json.loads(r.stdout)["rules"]}
    return "project_probe" in ran, [line for line in r.stderr.splitlines() if "skipped the rules" in line]


@pytest.mark.parametrize(
    "name,text",
    [
        ("inferscope.toml", '[analyze]\nrules_dirs = ["perf/rules"]\n'),
        ("pyproject.toml", '[tool.inferscope.analyze]\nrules_dirs = ["perf/rules"]\n'),
    ],
)
def test_config_file_rules_need_trust_which_is_remembered_per_content(tmp_path, cache_dir, name, text):
    """A rules_dirs found upward is skipped with one note naming the directory, the file and the flag; with
    --trust-config-rules it runs and is remembered; editing the file withdraws the trust."""
    project, cwd = _project(tmp_path, text, name)
    home = tmp_path / "home"

    ran, notes = _analyze(cwd, cache_dir, home)
    assert not ran
    assert len(notes) == 1
    assert str(project / "perf" / "rules") in notes[0] and str(project / name) in notes[0]
    assert "--trust-config-rules" in notes[0]

    ran, notes = _analyze(cwd, cache_dir, home, "--trust-config-rules")
    assert ran and not notes

    ran, notes = _analyze(cwd, cache_dir, home)  # remembered for this file with this content
    assert ran and not notes

    (project / name).write_text(text + "# edited\n")
    ran, notes = _analyze(cwd, cache_dir, home)
    assert not ran and len(notes) == 1 and "changed since you trusted it" in notes[0]


def test_environment_rules_dirs_need_the_flag_each_time(tmp_path, cache_dir):
    """INFERSCOPE_ANALYZE__RULES_DIRS is skipped with a note naming the variable; the flag runs it, and is not
    remembered."""
    project, cwd = _project(tmp_path, "")
    (project / "inferscope.toml").unlink()
    home = tmp_path / "home"
    env = {"INFERSCOPE_ANALYZE__RULES_DIRS": json.dumps([str(project / "perf" / "rules")])}

    ran, notes = _analyze(cwd, cache_dir, home, env=env)
    assert not ran and len(notes) == 1 and "INFERSCOPE_ANALYZE__RULES_DIRS" in notes[0]

    ran, notes = _analyze(cwd, cache_dir, home, "--trust-config-rules", env=env)
    assert ran and not notes

    ran, notes = _analyze(cwd, cache_dir, home, env=env)
    assert not ran and len(notes) == 1


def test_rules_on_the_command_line_need_no_trust(tmp_path, cache_dir):
    """--rules DIR is the user's own say-so: it runs without a note even where a config file is untrusted."""
    project, cwd = _project(tmp_path, '[analyze]\nrules_dirs = ["perf/rules"]\n')
    ran, notes = _analyze(cwd, cache_dir, tmp_path / "home", "--rules", project / "perf" / "rules")
    assert ran
    assert len(notes) == 1  # the config file's entry is still untrusted and says so
