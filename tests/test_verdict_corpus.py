"""The verdict corpus (issue 19): InferScope's judgements on every shared trace, sample trace and edited copy,
against expectations a performance engineer would sign, with the figures behind them computed by an independent
reader (tests/verdicts/reader.py), not by the product's views.

One test per check, so a known miss (`known_wrong` in the expectation file) is one strict xfail and every other
check of the same trace still runs: when a fix lands, the XPASS says which mark to take off. Heavy: it analyses
and reads every shared trace (about 90 s on two cores with a cold cache)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, TRACES
from tests.verdicts import corpus
from tests.verdicts.reader import read

EXPECTATIONS = [corpus.load(p) for p in corpus.expectation_files()]
CHECKS = [c for exp in EXPECTATIONS for c in corpus.checks(exp)]
BY_CASE = {exp["case"]: exp for exp in EXPECTATIONS}

pytestmark = pytest.mark.heavy


@pytest.fixture(scope="module")
def subject(tmp_path_factory, cache_dir):
    """Per case: [(product analysis JSON or None, reader facts)], one pair per trace file of the case (a fleet
    case has one per rank). Each trace is read, edited and analysed once per module."""
    import inferscope

    edited_dir = tmp_path_factory.mktemp("verdict-edits")
    paths: dict[str, list] = {}
    facts: dict[str, list] = {}
    docs: dict[str, list] = {}
    requests: dict[str, object] = {}

    def _get(case: str, need_product: bool) -> list:
        if case not in paths:
            try:
                paths[case] = corpus.trace_paths(BY_CASE[case], TRACES, REPO, edited_dir)
            except corpus.Unavailable as why:
                paths[case] = str(why)
        if isinstance(paths[case], str):
            pytest.skip(paths[case])
        if case not in requests:
            requests[case] = corpus.requests_path(BY_CASE[case], TRACES, edited_dir)
        if case not in facts:
            facts[case] = [read(p, requests[case]) for p in paths[case]]
        if need_product and case not in docs:
            docs[case] = [
                json.loads(inferscope.open(p, cache_dir=cache_dir).analyze(requests=requests[case]).to_json())
                for p in paths[case]
            ]
        return list(zip(docs[case] if need_product else [None] * len(facts[case]), facts[case]))

    return _get


def test_every_check_has_a_reason_and_known_misses_name_their_class():
    """An expectation is a judgement; without its reason nobody can tell a wrong expectation from a wrong product."""
    assert EXPECTATIONS, "no expectation files in tests/verdicts"
    for c in CHECKS:
        if c.kind != "numbers":
            assert c.spec.get("why"), f"{c.id} has no 'why'"
        if c.known_wrong:
            assert c.known_wrong.startswith("issue 19 class "), f"{c.id}: known_wrong must name its class"
        if c.kind == "headline":
            want = c.spec["class"] if isinstance(c.spec["class"], list) else [c.spec["class"]]
            assert set(want) <= set(corpus.HEADLINE_CLASSES), f"{c.id}: {want} not in the vocabulary"


def test_headline_vocabulary_maps_the_products_sentences():
    """The mapping is part of the test's judgement, so its reading of each sentence form is pinned here."""
    cases = {
        "Copy-bound: memory copies kept the GPU busy 63.0% ...": "copy-bound",
        "GPU-bound: the GPU was busy 99.3% of the 135 ms active span, mostly on kernels": "gpu-bound",
        "Host-bound steps: the median step (6.85 ms) kept the GPU busy only 14.5% ..., mostly launch-bound: x": "host-bound",
        "The GPU sat idle 99.9% of the 508 ms active span (508 ms), mostly host-bound: 463 ms passed": "host-bound",
        "The GPU sat idle 99.97% of the 22.5 ms active span (22.4 ms), mostly launch-bound: 22.4 ms": "launch-bound",
        "Partly idle: the GPU was busy 63.2% ...; the idle rest was 659 ms, largest share sync-bound: 1 s": "sync-bound",
        "The GPU sat idle 50% of the 1 s active span (0.5 s).": "idle",
        "This trace has no GPU work (no kernels, copies or memsets), so nothing limits a GPU here": "cpu-only",
        "Cold start: JIT compilation held the GPU idle 78% of the window": "cold-start",
        "The GPU sat idle 99.9% of the 508 ms active span (508 ms), mostly load-bound: 440 ms passed": "cold-start",
    }
    for sentence, cls in cases.items():
        assert corpus.headline_class(sentence) == cls, sentence


def _param(check: corpus.Check):
    marks = [pytest.mark.xfail(strict=True, reason=check.known_wrong)] if check.known_wrong else []
    return pytest.param(check, id=check.id, marks=marks)


@pytest.mark.parametrize("check", [_param(c) for c in CHECKS])
def test_verdict(check, subject):
    pairs = subject(check.case, need_product=check.kind != "facts")
    failed = [seen for ok, seen in (corpus.judge(check, doc, facts) for doc, facts in pairs) if not ok]
    assert not failed, f"{check.id} ({check.spec.get('why', '')}): {failed[0]}"
