"""`analyze -f json` on every shared trace and `compare -f json` on shared pairs write exactly the golden files
(tests/golden_outputs.py says how they are made and when they may change). Heavy: the goldens are written with
the pinned set, and other library versions may differ in the last digit of a float."""

from __future__ import annotations

import pytest

from tests import golden_outputs
from tests.conftest import TRACES, needs_shared

pytestmark = [pytest.mark.heavy, needs_shared]


@pytest.fixture(scope="module")
def produced() -> dict[str, str]:
    return {name: text for name, _code, text in golden_outputs.outputs(TRACES)}


def test_every_golden_is_produced_and_no_other(produced):
    on_disk = {p.name for p in golden_outputs.HERE.glob("*.json")}
    assert set(produced) == on_disk


@pytest.mark.parametrize(
    "name",
    [golden_outputs.golden_name(p) for p in golden_outputs.ANALYZE]
    + ["compare__" + golden_outputs.golden_name(b, n) for b, n, *_ in golden_outputs.COMPARE],
)
def test_output_is_byte_identical_to_its_golden(produced, name):
    want = (golden_outputs.HERE / name).read_text(encoding="utf-8")
    assert produced[name] == want, (
        f"{name} changed; if on purpose, run `python -m tests.golden_outputs` and say why in the commit"
    )
