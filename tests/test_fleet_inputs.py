"""The cheap parts of the fleet (issue 23), without a Dask cluster: which paths make a fleet, the outlier bar's
growth with the fleet's size, and that a single trace neither becomes a fleet nor loads Dask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inferscope.errors import TraceInputError
from inferscope.fleet.inputs import expand_inputs, is_glob
from inferscope.fleet.reduce import z_crit
from tests.conftest import REPO, TRACES

FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"


def _touch(folder: Path, *names: str) -> list[Path]:
    out = []
    for n in names:
        (folder / n).write_bytes(b"{}")
        out.append(folder / n)
    return out


def test_directory_glob_and_files_expand_to_one_path_per_rank(tmp_path):
    a, b, c = _touch(tmp_path, "rank0.json.gz", "rank1.json.gz", "rank2.json")
    _touch(tmp_path, "notes.txt", ".hidden.json")
    assert expand_inputs([tmp_path]) == [a, b, c]
    assert expand_inputs([str(tmp_path / "rank*.json.gz")]) == [a, b]
    assert expand_inputs([b, a, str(tmp_path / "rank*.json.gz")]) == [b, a]  # each once, in the order given
    assert is_glob(str(tmp_path / "rank*.json.gz")) and not is_glob(a)


@pytest.mark.parametrize(
    ("items", "words"), [(["/nonexistent/rank0.json"], "no such file"), (["/nonexistent/r*.json"], "matches no file")]
)
def test_missing_inputs_are_one_line(items, words):
    with pytest.raises(TraceInputError, match=words):
        expand_inputs(items)


def test_outlier_bar_rises_with_the_number_of_ranks():
    """A family-wise bar: more ranks, more chances for one to stray by luck, so a larger |z| is needed."""
    bars = [z_crit(n) for n in (2, 8, 64, 1024)]
    assert bars == sorted(bars) and bars[0] > 1.96 and bars[-1] < 6


@pytest.mark.skipif(not FLEET.is_dir(), reason="shared fleet traces not found")
def test_one_trace_is_no_fleet_and_loads_no_dask(tmp_path):
    from inferscope.cli.fleet import wants_fleet

    one = sorted(FLEET.glob("*.json.gz"))[0]
    assert not wants_fleet([one], False) and wants_fleet([one], True) and wants_fleet([one, one], False)
    code = (
        "import sys; from inferscope.cli._common import run_app; "
        f"rc = run_app(['analyze', {str(one)!r}, '-f', 'json', '--cache-dir', {str(tmp_path)!r}]); "
        "print(rc, 'distributed' in sys.modules, 'dask' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.stderr.strip().splitlines()[-1] in ("0 False False", "1 False False"), proc.stderr
    assert proc.stdout.startswith("{")
