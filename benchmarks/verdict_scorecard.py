"""The verdict scorecard (issue 19): how many of the corpus's expectations InferScope meets, per trace.

    python benchmarks/verdict_scorecard.py                      # this checkout
    python benchmarks/verdict_scorecard.py --product /tmp/old   # another version's inferscope/ + sql/ + templates/
    python benchmarks/verdict_scorecard.py -k h200 --detail     # some cases, with every miss spelled out

The expectations are tests/verdicts/*.json (tests/verdicts/corpus.py says what each check means); the figures
they are judged against come from the independent reader (tests/verdicts/reader.py). Per trace it prints:

* hits: expectations met (headline class, findings that must fire, numbers, the idle ledger, ...);
* misses: expectations not met, other than must-not ones;
* false: must-not expectations broken, i.e. findings that fired although the trace shows they are false;
* known: of the misses and false ones, how many the corpus already marks known_wrong (issue 19's classes).

Reader-only premises (`facts`) are checked too and reported apart: a broken premise means the expectation, not
the product, needs another look. To score an older version, extract it with
`git archive COMMIT inferscope sql templates | tar -x -C /tmp/old` and pass `--product /tmp/old`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--product", type=Path, default=None, help="a folder holding the inferscope/ (and sql/) to score")
    ap.add_argument("--cache-dir", type=Path, default=None, help="conversion cache (default: a temporary folder)")
    ap.add_argument("-k", dest="only", default="", help="only cases whose name contains this")
    ap.add_argument("--detail", action="store_true", help="print every miss and false finding")
    args = ap.parse_args()

    # the product first on the path (this checkout's, or --product's), then this checkout for tests.verdicts
    sys.path.insert(0, str(REPO))
    if args.product:
        sys.path.insert(0, str(args.product.resolve()))
    import inferscope

    from tests.conftest import TRACES
    from tests.verdicts import corpus
    from tests.verdicts.reader import read

    print(f"product: {Path(inferscope.__file__).parent}")
    work = Path(tempfile.mkdtemp(prefix="verdict-scorecard-"))
    cache = args.cache_dir or work / "cache"
    rows, details = [], []
    totals = dict(checks=0, hits=0, misses=0, false=0, known=0, premises_broken=0)
    t_start = time.perf_counter()
    for path in corpus.expectation_files():
        exp = corpus.load(path)
        if args.only not in exp["case"]:
            continue
        try:
            traces = corpus.trace_paths(exp, TRACES, REPO, work / "edits")
        except corpus.Unavailable as why:
            rows.append((exp["case"], None, str(why)))
            continue
        requests = corpus.requests_path(exp, TRACES, work / "edits")
        t0 = time.perf_counter()
        try:
            docs = [
                json.loads(inferscope.open(p, cache_dir=cache).analyze(requests=requests).to_json()) for p in traces
            ]
        except Exception as exc:  # an older product may fail on a trace: that is a miss of every check
            docs = None
            failure = f"{type(exc).__name__}: {exc}"
        facts = [read(p, requests) for p in traces]
        score = dict(checks=0, hits=0, misses=0, false=0, known=0, premises_broken=0)
        headline = ""
        for check in corpus.checks(exp):
            if check.kind == "facts":
                if not all(corpus.judge(check, None, f)[0] for f in facts):
                    score["premises_broken"] += 1
                    details.append(f"  {check.id}: PREMISE BROKEN")
                continue
            score["checks"] += 1
            if docs is None:
                ok, seen = False, failure
            else:
                results = [corpus.judge(check, d, f) for d, f in zip(docs, facts)]
                ok = all(r[0] for r in results)
                seen = next((r[1] for r in results if not r[0]), results[0][1])
            if check.kind == "headline" and docs is not None:
                headline = ",".join(sorted({corpus.headline_class(d["headline"]) for d in docs}))
            if ok:
                score["hits"] += 1
                continue
            score["false" if check.kind == "must_not" else "misses"] += 1
            score["known"] += bool(check.known_wrong)
            mark = " (known_wrong)" if check.known_wrong else ""
            details.append(f"  {check.id}{mark}: {seen}")
        for k in totals:
            totals[k] += score[k]
        want = exp.get("headline", {}).get("class", "")
        rows.append(
            (exp["case"], score, f"{headline or '-'} (want {'/'.join(want) if isinstance(want, list) else want})")
        )
        rows[-1] += (time.perf_counter() - t0,)

    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"{'trace':<{width}}  checks  hits  misses  false  known  headline")
    for row in rows:
        name, score, note = row[0], row[1], row[2]
        if score is None:
            print(f"{name:<{width}}  skipped: {note}")
            continue
        broken = f"  PREMISES BROKEN: {score['premises_broken']}" if score["premises_broken"] else ""
        print(
            f"{name:<{width}}  {score['checks']:>6}  {score['hits']:>4}  {score['misses']:>6}  {score['false']:>5}  "
            f"{score['known']:>5}  {note}{broken}"
        )
    t = totals
    print(
        f"{'TOTAL':<{width}}  {t['checks']:>6}  {t['hits']:>4}  {t['misses']:>6}  {t['false']:>5}  {t['known']:>5}  "
        f"({100.0 * t['hits'] / max(t['checks'], 1):.1f}% hit; {time.perf_counter() - t_start:.0f} s)"
    )
    if t["premises_broken"]:
        print(f"{t['premises_broken']} reader premises broken: fix those expectations first")
    if args.detail and details:
        print("\nmisses and false findings:")
        print("\n".join(details))


if __name__ == "__main__":
    main()
