"""A CPU-only stand-in for an LLM server loop, annotated with InferScope's scope()/mark_event().

Requests arrive in batches; each request is prefilled (work proportional to its prompt length), then the batch
decodes one token per active request per step until every request has produced its tokens. No GPU and no model
are involved: the "work" is pure Python arithmetic, so the script runs anywhere in about a second.

    python examples/annotated_inference.py                       # runs, annotations are no-ops
    inferscope record --no-nsys -o run1 -- python examples/annotated_inference.py
    inferscope query run1 "SELECT * FROM annotation_requests"
"""

from __future__ import annotations

import argparse
import random

import inferscope


def _work(units: int) -> int:
    """Burn CPU roughly in proportion to `units` (stands in for a forward pass)."""
    acc = 0
    for i in range(units * 200):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def prefill(request_id: str, prompt_tokens: int) -> None:
    with inferscope.scope("prefill", request=request_id, tokens=prompt_tokens):
        _work(prompt_tokens)
    inferscope.mark_event("first_token", request=request_id)


@inferscope.scope("sample")
def sample(active: list[str]) -> None:
    _work(len(active))


def serve_batch(batch_id: int, requests: dict[str, tuple[int, int]]) -> None:
    """requests: id -> (prompt tokens, tokens to generate)."""
    with inferscope.scope("batch", batch=batch_id, batch_size=len(requests), requests=list(requests)):
        for rid, (prompt, _) in requests.items():
            prefill(rid, prompt)
        left = {rid: new for rid, (_, new) in requests.items()}
        while left:
            active = sorted(left)
            with inferscope.scope(
                "decode", batch=batch_id, batch_size=len(active), requests=active, tokens=len(active)
            ):
                _work(8 * len(active))
                sample(active)
            for rid in active:
                left[rid] -= 1
                if left[rid] == 0:
                    del left[rid]
                    inferscope.mark_event("request_done", request=rid, tokens=requests[rid][1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    ids = [f"req-{i}" for i in range(args.requests)]
    for batch_id, first in enumerate(range(0, len(ids), args.batch_size)):
        batch = {rid: (rng.randint(16, 128), rng.randint(2, 8)) for rid in ids[first : first + args.batch_size]}
        serve_batch(batch_id, batch)
    print(f"served {len(ids)} requests in {(len(ids) + args.batch_size - 1) // args.batch_size} batches")


if __name__ == "__main__":
    main()
