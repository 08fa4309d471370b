"""Configuration: file discovery, precedence (default < file < INFERSCOPE_* < command line), errors that name the
file or variable and the key, and `inferscope config`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inferscope.config import find_config, known_rules, load_config
from inferscope.errors import ConfigError
from tests.conftest import NSYS_TRACES, REPO, needs_shared, run_cli

RULE = """-- rule: slow_thing
-- title: Something slow
-- param limit_ns = 1000: longest allowed
-- param ratio = 0.5: share
-- param strict = false: stop early
-- param label = "x": a label
SELECT 1 AS impact_ns
"""


@pytest.fixture
def project(tmp_path):
    """A project tree: tmp/pyproject.toml (with [tool.inferscope]), tmp/src/deep/ as the working directory and a
    user rule directory tmp/perf/rules."""
    (tmp_path / "perf" / "rules").mkdir(parents=True)
    (tmp_path / "perf" / "rules" / "slow_thing.sql").write_text(RULE)
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("""
[project]
name = "demo"

[tool.inferscope.analyze]
rules_dirs = ["perf/rules"]

[tool.inferscope.rules.slow_thing]
limit_ns = 2000
ratio = 0.25

[tool.inferscope.steps]
patterns = ["^decode_step$", "(?i)^prefill"]

[tool.inferscope.phases]
prefill = ["(?i)^prefill"]

[tool.inferscope.compare]
threshold = "3%"
metrics = ["step_time_ns"]
""")
    return tmp_path


def test_file_found_upward_and_read(project):
    cfg = load_config(project / "src" / "deep", environ={})
    assert cfg.path == project / "pyproject.toml"
    assert cfg.rule_params() == {"slow_thing": {"limit_ns": 2000, "ratio": 0.25}}
    assert cfg.get("rules.slow_thing.strict") is False  # default from the rule header
    assert cfg.settings["rules.slow_thing.strict"].source == "default"
    assert cfg.step_patterns == ["^decode_step$", "(?i)^prefill"]
    assert cfg.phase_patterns == {"prefill": ["(?i)^prefill"]}
    assert cfg.rules_dirs == [(project / "perf" / "rules").resolve()]
    assert cfg.compare["threshold"] == "3%" and cfg.compare["metrics"] == ["step_time_ns"]
    assert cfg.compare["confidence"] == 0.95  # compare's default
    assert "pyproject.toml [tool.inferscope]" in cfg.settings["compare.threshold"].source


def test_precedence_default_file_env_cli(project):
    env = {
        "INFERSCOPE_RULES__SLOW_THING__LIMIT_NS": "3000",
        "INFERSCOPE_COMPARE__THRESHOLD": "4%",
        "INFERSCOPE_COMPARE__CONFIDENCE": "0.9",
        "INFERSCOPE_SHARED": "/elsewhere",
    }
    cfg = load_config(
        project / "src", environ=env, params=["slow_thing.limit_ns=4000"], sets=["compare.threshold=0.02"]
    )
    s = cfg.settings
    assert (s["rules.slow_thing.limit_ns"].value, s["rules.slow_thing.limit_ns"].source) == (4000, "command line")
    assert (s["compare.threshold"].value, s["compare.threshold"].source) == (0.02, "command line")
    assert (s["compare.confidence"].value, s["compare.confidence"].source) == (
        0.9,
        "env INFERSCOPE_COMPARE__CONFIDENCE",
    )
    assert s["rules.slow_thing.ratio"].value == 0.25 and s["rules.slow_thing.ratio"].source.startswith("file ")
    assert s["rules.slow_thing.label"].source == "default"
    # env beats file when no command-line value is given
    cfg = load_config(project / "src", environ=env)
    assert cfg.settings["rules.slow_thing.limit_ns"].value == 3000
    assert cfg.compare["threshold"] == "4%"


def test_inferscope_toml_wins_in_its_directory_and_pyproject_without_table_is_skipped(project):
    sub = project / "src"
    (sub / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    assert find_config(sub / "deep") == project / "pyproject.toml"
    (sub / "inferscope.toml").write_text("[compare]\nthreshold = '1%'\n")
    assert find_config(sub / "deep") == sub / "inferscope.toml"
    cfg = load_config(sub / "deep", environ={})
    assert cfg.compare["threshold"] == "1%" and cfg.step_patterns is None


def test_explicit_file_and_no_file(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "team.toml").write_text("[steps]\npatterns = ['^it$']\n")
    cfg = load_config(project, config_file=other / "team.toml", environ={})
    assert cfg.step_patterns == ["^it$"] and cfg.path == other / "team.toml"
    assert load_config(project, environ={"INFERSCOPE_CONFIG": str(other / "team.toml")}).step_patterns == ["^it$"]
    empty = load_config(other, environ={})
    assert empty.path is None and empty.rule_params() == {} and empty.compare["threshold"] == "5%"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tool.inferscope.compare]\nthreshhold = '3%'\n", "unknown key 'compare.threshhold'"),
        ("[tool.inferscope.compare]\nconfidence = 3\n", "key 'compare.confidence': expected a number between 0 and 1"),
        ("[tool.inferscope.compare]\nthreshold = 5\n", "key 'compare.threshold': expected a percentage"),
        ("[tool.inferscope.steps]\npatterns = ['(unclosed']\n", "key 'steps.patterns': '(unclosed' is not a regular"),
        (
            "[tool.inferscope.analyze]\nrules_dirs = ['perf/rules']\n[tool.inferscope.rules.slow_thing]\nlimit_ms = 5\n",
            "rule 'slow_thing' has no parameter 'limit_ms' (parameters: label, limit_ns, ratio, strict)",
        ),
        (
            "[tool.inferscope.analyze]\nrules_dirs = ['perf/rules']\n[tool.inferscope.rules.slow_thing]\nlimit_ns = 2.5\n",
            "key 'rules.slow_thing.limit_ns': expected a whole number (default 1000), got 2.5",
        ),
        (
            "[tool.inferscope.analyze]\nrules_dirs = ['perf/rules']\n[tool.inferscope.rules.slow_thng]\nlimit_ns = 5\n",
            "unknown rule 'slow_thng'",
        ),
        ("[tool.inferscope]\nthresholds = 3\n", "unknown key 'thresholds'"),
        ("[tool.inferscope.compare\n", "not valid TOML"),
    ],
)
def test_bad_file_names_file_and_key(project, text, message):
    (project / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(project, environ={})
    assert str(err.value).startswith(str(project / "pyproject.toml"))
    assert message in str(err.value)


def test_bad_environment_and_options(project):
    with pytest.raises(
        ConfigError, match="environment variable INFERSCOPE_STEPS__PATERNS: unknown key 'steps.paterns'"
    ):
        load_config(project, environ={"INFERSCOPE_STEPS__PATERNS": "x"})
    with pytest.raises(ConfigError, match="environment variable INFERSCOPE_RULES__SLOW_THING__STRICT: .*true or false"):
        load_config(project, environ={"INFERSCOPE_RULES__SLOW_THING__STRICT": "maybe"})
    with pytest.raises(
        ConfigError,
        match="--param slow_thing.nope: key 'rules.slow_thing.nope': rule 'slow_thing' has no parameter 'nope'",
    ):
        load_config(project, environ={}, params=["slow_thing.nope=1"])
    with pytest.raises(ConfigError, match="--param 'slow_thing': expected RULE.KEY=VALUE"):
        load_config(project, environ={}, params=["slow_thing=3"])
    with pytest.raises(ConfigError, match="--set compare.nope: unknown key 'compare.nope'"):
        load_config(project, environ={}, sets=["compare.nope=1"])
    with pytest.raises(ConfigError, match="--config: no such configuration file"):
        load_config(project, config_file=project / "missing.toml", environ={})


def test_rule_headers_are_read_for_defaults(project):
    rules = known_rules([project / "perf" / "rules"])
    assert rules["slow_thing"] == {"limit_ns": 1000, "ratio": 0.5, "strict": False, "label": "x"}


def test_cli_prints_values_and_sources(project):
    out = run_cli(
        "config",
        "-f",
        "json",
        "--param",
        "slow_thing.ratio=0.75",
        cwd=project / "src" / "deep",
        env={"INFERSCOPE_COMPARE__THRESHOLD": "2%"},
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = {r["key"]: (r["value"], r["source"]) for r in data["settings"]}
    assert data["file"] == str(project / "pyproject.toml")
    assert rows["rules.slow_thing.ratio"] == (0.75, "command line")
    assert rows["compare.threshold"] == ("2%", "env INFERSCOPE_COMPARE__THRESHOLD")
    assert rows["rules.slow_thing.limit_ns"][0] == 2000 and rows["rules.slow_thing.limit_ns"][1].startswith("file ")
    table = run_cli("config", cwd=project / "src")
    assert table.returncode == 0 and "[tool.inferscope]" in table.stdout and "rules.slow_thing.limit_ns" in table.stdout


def test_cli_error_is_one_line_exit_2(project):
    (project / "pyproject.toml").write_text("[tool.inferscope.compare]\nconfidence = 'high'\n")
    out = run_cli("config", cwd=project)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("inferscope: error: ") and "compare.confidence" in out.stderr
    assert "pyproject.toml" in out.stderr and "Traceback" not in out.stderr


def test_tomli_fallback_without_tomllib(project):
    pytest.importorskip("tomli", reason="tomli is installed only on Python < 3.11; CI's 3.10 run covers this path")
    code = (
        "import sys; sys.modules['tomllib'] = None\n"
        "import inferscope.config as c\n"
        f"print(c._toml.__name__, c.load_config({str(project)!r}, environ={{}}).compare['threshold'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["tomli", "3%"]


def _phase_counts(analysis_json: str) -> dict[str, float]:
    doc = json.loads(analysis_json)
    return {m["key"]: m["value"] for m in doc["metrics"] if m["id"] == "phase_step_count"}


def test_phase_patterns_from_the_file_name_the_phases_analyze_reports(tmp_path, cache_dir):
    """[phases] in the configuration replaces the built-in prefill/decode patterns: steps take the user's phase
    names, and --phase-pattern on the command line wins over the file."""
    trace = REPO / "sample_traces" / "annotated_inference_nsys2022.4.sqlite"
    builtin = run_cli("analyze", trace, "-f", "json", "--cache-dir", cache_dir, cwd=tmp_path)
    assert builtin.returncode == 0, builtin.stderr
    default = _phase_counts(builtin.stdout)
    assert set(default) == {"prefill", "decode"}

    (tmp_path / "inferscope.toml").write_text('[phases]\ncontext = ["^prefill"]\ngeneration = ["^decode"]\n')
    from_file = run_cli("analyze", trace, "-f", "json", "--cache-dir", cache_dir, cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert _phase_counts(from_file.stdout) == {"context": default["prefill"], "generation": default["decode"]}

    cli = run_cli(
        "analyze",
        trace,
        "-f",
        "json",
        "--cache-dir",
        cache_dir,
        "--phase-pattern",
        "all=^(prefill|decode)",
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    assert _phase_counts(cli.stdout) == {"all": default["prefill"] + default["decode"]}


def test_bad_phase_pattern_is_one_line_exit_2(tmp_path, cache_dir):
    trace = REPO / "sample_traces" / "annotated_inference_nsys2022.4.sqlite"
    for arg, says in (("prefill=(unclosed", "not a valid regular expression"), ("no-equals-sign", "PHASE=REGEX")):
        out = run_cli("analyze", trace, "--cache-dir", cache_dir, "--phase-pattern", arg, cwd=tmp_path)
        assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


@needs_shared
def test_query_sees_the_steps_the_configuration_names_as_analyze_does(tmp_path):
    """An inferscope.toml's step patterns shape `query ... FROM steps` as they shape `analyze`: the saxpy export's
    NVTX ranges named `saxpy`, counted here with sqlite3, are the steps of both; without the file, neither."""
    import sqlite3

    saxpy = NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite"
    con = sqlite3.connect(f"file:{saxpy}?mode=ro", uri=True)
    want = con.execute(
        "SELECT count(*) FROM NVTX_EVENTS n LEFT JOIN StringIds s ON s.id = n.textId "
        "WHERE coalesce(n.text, s.value) = 'saxpy' AND n.\"end\" IS NOT NULL"
    ).fetchone()[0]
    con.close()
    assert want > 0
    project = tmp_path / "project"
    project.mkdir()
    (project / "inferscope.toml").write_text('[steps]\npatterns = ["^saxpy$"]\n')
    cache = tmp_path / "cache"
    sql = "SELECT count(*) AS n FROM steps"
    configured = run_cli("query", saxpy, sql, "-f", "json", "--cache-dir", cache, cwd=project)
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout) == [{"n": want}]
    analysed = run_cli("analyze", saxpy, "-f", "json", "--cache-dir", cache, cwd=project)
    assert len(json.loads(analysed.stdout)["steps"]["rows"]) == want
    plain = run_cli("query", saxpy, sql, "-f", "json", "--cache-dir", cache, cwd=tmp_path)
    assert json.loads(plain.stdout) == [{"n": 0}]
