"""GenAI-Perf's per-request export (profile_export.json, written by perf_analyzer for genai-perf) -> request
entries (`request_files` makes the tables).

The file is one JSON document: `experiments`, each with `experiment` {mode, value} (concurrency 100, request_rate
2.0, ...) and `requests`, each with `timestamp` (when it was sent), `response_timestamps` (one per response
received), `request_inputs` (the payload) and `response_outputs` (what each response held: for OpenAI endpoints
the raw server-sent-event text, for Triton the output tensors). Every timestamp is perf_analyzer's
`std::chrono::system_clock` count, which on Linux is ns since the Unix epoch: UTC ns like AIPerf's timestamp_ns,
so the same alignment applies. A timestamp that cannot be UTC ns (before 2001 or after 2100: another clock, or a
platform whose system_clock counts in other units) is refused, since it would place the requests nowhere.

What counts as a token's arrival follows GenAI-Perf: for OpenAI endpoints only responses that carry text (the
answer's `content` or a completion's `text`) count; the role-only first chunk, empty deltas, the usage chunk and
`[DONE]` do not. TTFT is the first such response, latency the last, the gaps those between them. The file holds no
token counts of its own (GenAI-Perf tokenizes the text with the model's tokenizer, which InferScope does not
have): counts come only from an OpenAI `usage` object in the responses (sent when the client asked for
stream_options.include_usage, and always without streaming); otherwise they stay NULL, and so does the
inter-token latency that needs them. A request with no response carrying text is kept with status `error`
(GenAI-Perf leaves it out of its statistics), as is one whose stream carried an error event.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TraceInputError

EXPECTED = "expected GenAI-Perf profile_export.json"
UTC_NS_RANGE = (1_000_000_000 * 10**9, 4_102_444_800 * 10**9)  # 2001-09-09 .. 2100-01-01
SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _payloads(response: str) -> list[str]:
    """The data payloads of one received response: server-sent events (several may arrive at once), or a plain
    JSON body without streaming."""
    text = response.strip()
    if text.startswith("{"):
        return [text]
    out = []
    for line in text.splitlines():
        if line.startswith("data:"):
            out.append(line[5:].strip())
    return out


def _read_payload(payload: str, where: str) -> dict | None:
    if not payload or payload == "[DONE]":
        return None
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise TraceInputError(f"{where}: response data is not JSON ({exc.msg}); {EXPECTED}") from None
    return data if isinstance(data, dict) else None


def _text_of(data: dict) -> str:
    """The text one OpenAI (or Triton generate) response carries; '' for role, usage and empty chunks."""
    if isinstance(data.get("text_output"), str):
        return data["text_output"]
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    c = choices[0]
    for holder, key in ((c, "text"), (c.get("delta"), "content"), (c.get("message"), "content")):
        if isinstance(holder, dict) and isinstance(holder.get(key), str) and holder[key]:
            return holder[key]
    return ""


def _unsplinter(outputs: list) -> list[str]:
    """Response texts with a fragment that is no event of its own (one event split across two reads) joined to
    the response it continues; the fragment's own slot becomes empty, so its timestamp counts for nothing."""
    texts = [o.get("response") if isinstance(o, dict) and isinstance(o.get("response"), str) else "" for o in outputs]
    for i in range(len(texts) - 1, 0, -1):
        t = texts[i].lstrip()
        if t and not t.startswith(SSE_FIELDS) and not t.startswith("{"):
            texts[i - 1] += texts[i]
            texts[i] = ""
    return texts


def _openai(req: dict, where: str) -> tuple[list[int], dict | None, dict | None]:
    """(timestamps of the responses that carry text, the last usage object, the first error object)."""
    stamps, outputs = req["response_timestamps"], req.get("response_outputs") or []
    texts = _unsplinter(outputs if isinstance(outputs, list) else [])
    kept, usage, error = [], None, None
    for k, ts in enumerate(stamps):
        carried = False
        for payload in _payloads(texts[k]) if k < len(texts) else []:
            data = _read_payload(payload, f"{where} response {k + 1}")
            if data is None:
                continue
            if data.get("error") and error is None:
                error = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
            if isinstance(data.get("usage"), dict):
                usage = data["usage"]
            carried = carried or bool(_text_of(data))
        if carried:
            kept.append(ts)
    return kept, usage, error


def _tokens(usage: dict | None) -> tuple[int | None, int | None, int | None]:
    if not usage:
        return None, None, None
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    vals = (usage.get("prompt_tokens"), usage.get("completion_tokens"), reasoning)
    return tuple(v if _is_int(v) else None for v in vals)


def _check(doc: dict, path: Path) -> list:
    experiments = doc.get("experiments")
    if not isinstance(experiments, list):
        raise TraceInputError(f"{path}: `experiments` is not a list; {EXPECTED}")
    for i, exp in enumerate(experiments, 1):
        if not isinstance(exp, dict) or not isinstance(exp.get("requests"), list):
            raise TraceInputError(f"{path}: experiment {i} has no `requests` list; {EXPECTED}")
        for j, req in enumerate(exp["requests"], 1):
            where = f"{path}: experiment {i} request {j}"
            if not isinstance(req, dict) or not _is_int(req.get("timestamp")):
                raise TraceInputError(f"{where}: no integer `timestamp`; {EXPECTED}")
            stamps = req.get("response_timestamps")
            if not isinstance(stamps, list) or not all(_is_int(t) for t in stamps):
                raise TraceInputError(f"{where}: `response_timestamps` is not a list of integers; {EXPECTED}")
            lo, hi = UTC_NS_RANGE
            if not lo <= req["timestamp"] < hi:
                raise TraceInputError(
                    f"{where}: timestamp {req['timestamp']} is not UTC ns since 1970 (perf_analyzer's system_clock "
                    "on Linux); the requests cannot be put on the trace's clock"
                )
    if not any(exp["requests"] for exp in experiments):
        raise TraceInputError(f"{path}: no request records")
    return experiments


def entries(doc: dict, path: Path) -> list[dict]:
    """One request entry per request of every experiment, in file order."""
    experiments = _check(doc, path)
    openai = doc.get("service_kind") == "openai"
    several = len(experiments) > 1
    out = []
    for i, exp in enumerate(experiments, 1):
        label = exp.get("experiment") if isinstance(exp.get("experiment"), dict) else {}
        phase = f"{label['mode']}={label['value']}" if "mode" in label and "value" in label else None
        for j, req in enumerate(exp["requests"], 1):
            where = f"{path}: experiment {i} request {j}"
            if openai:
                stamps, usage, error = _openai(req, where)
            else:  # Triton and others: every response is one, as GenAI-Perf counts them
                stamps, usage, error = list(req["response_timestamps"]), None, None
            isl, osl, reasoning = _tokens(usage)
            start = req["timestamp"]
            status = "ok" if stamps and not error else "error"
            if error:
                code = error.get("code")
                etype = error.get("type") or "error event"
                message = str(error.get("message") or error)
            elif not stamps:
                code, etype = None, "no response"
                message = "no response carried text (GenAI-Perf leaves such requests out of its statistics)"
            else:
                code = etype = message = None
            ok = status == "ok"
            out.append(
                {
                    "request_id": f"{phase or f'experiment {i}'}#{j}" if several else f"#{j}",
                    "utc_start_ns": start,
                    "dur_ns": stamps[-1] - start if ok else None,
                    "ttft_ns": stamps[0] - start if ok else None,
                    "ttst_ns": stamps[1] - stamps[0] if ok and len(stamps) > 1 else None,
                    "gaps_ns": [b - a for a, b in zip(stamps, stamps[1:])] if ok else [],
                    "chunks": len(stamps) - 1 if ok else None,
                    "input_tokens": isl,
                    "output_tokens": osl,
                    "reasoning_tokens": reasoning,
                    "status": status,
                    "error_code": code if _is_int(code) else None,
                    "error_type": str(etype) if etype is not None else None,
                    "error_message": message,
                    "credit_phase": phase,
                }
            )
    return out
