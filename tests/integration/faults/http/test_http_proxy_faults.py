"""Every fault kind of the HTTP fault proxy, over real HTTP against the real LLM service and a JSON upstream.

Timings are measured against what was asked, with the proxy's tolerance: 10% or 20 ms, whichever
is more (the LLM service runs with no pacing, so the proxy's delay is all there is).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from tests.integration.faults.http.http_proxy_lab import JSON_BODY, Lab, chat_body, fetch, running_lab, within

pytestmark = [pytest.mark.integration]

CHAT = "/v1/chat/completions"
DONE = b"data: [DONE]\n\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("http-faults")) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(lab: Lab) -> Iterator[None]:
    yield
    lab.proxy.control.post("/reset")


async def stream(lab: Lab, body: dict[str, object] | None = None) -> list[bytes]:
    """The events of one streamed completion straight from the LLM (the reference for counts)."""
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.direct("llm", CHAT), "POST", json=body or chat_body())
    assert answer.error is None
    return answer.events


def is_json_event(event: bytes) -> bool:
    data = event.decode().removeprefix("data: ").strip()
    try:
        json.loads(data)
    except ValueError:
        return data == "[DONE]"
    return True


# -- answers in the upstream's place ---------------------------------------------------------------


async def test_http_fault_http_error_answers_without_calling_the_upstream(lab: Lab) -> None:
    """``http_error`` answers its status, a provider-like JSON body and Retry-After; the upstream sees nothing."""
    lab.proxy.add("json", {"kind": "http_error", "params": {"status": 529, "retry_after_s": 1.5}})
    hits = lab.upstream.hits
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/json"))
    assert answer.status == 529
    assert answer.headers["Retry-After"] == "2"
    assert answer.headers["Content-Type"].startswith("application/json")
    assert json.loads(answer.body) == {"error": {"type": "overloaded_error", "message": "injected HTTP 529"}}
    assert lab.upstream.hits == hits


async def test_http_fault_http_error_sends_the_given_body(lab: Lab) -> None:
    """A custom body is sent as given, and without ``retry_after_s`` there is no Retry-After."""
    lab.proxy.add("llm", {"kind": "http_error", "params": {"status": 400, "body": "bad things"}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert (answer.status, answer.body) == (400, b"bad things")
    assert "Retry-After" not in answer.headers


@pytest.mark.parametrize("fmt", ["seconds", "ms", "date", "none"])
async def test_http_fault_rate_limit_bucket_then_429_with_retry_after(lab: Lab, fmt: str) -> None:
    """A bucket of 2 per 4 s passes two requests, then answers 429 with the wait in the asked format."""
    lab.proxy.add("json", {"kind": "rate_limit", "params": {"requests": 2, "window_s": 4, "retry_after_format": fmt}})
    async with aiohttp.ClientSession() as session:
        passed = [(await fetch(session, lab.via("json", "/json"))).status for _ in range(2)]
        limited = await fetch(session, lab.via("json", "/json"))
    now = time.time()
    assert passed == [200, 200]
    assert limited.status == 429
    assert json.loads(limited.body)["error"]["type"] == "rate_limit_error"
    headers = limited.headers
    if fmt == "none":
        assert "Retry-After" not in headers and "retry-after-ms" not in headers
    elif fmt == "date":
        wait = parsedate_to_datetime(headers["Retry-After"]).timestamp() - now
        assert 1.5 <= wait <= 3.0  # the next token in about 2 s, the date rounded up to a whole second
    else:
        assert headers["Retry-After"] == "2"
        if fmt == "ms":
            assert 1500 <= int(headers["retry-after-ms"]) <= 2000
        else:
            assert "retry-after-ms" not in headers


async def test_http_fault_rate_limit_refills_over_time(lab: Lab) -> None:
    """After the announced wait a token is back and the request passes again."""
    lab.proxy.add("json", {"kind": "rate_limit", "params": {"requests": 1, "window_s": 0.3, "retry_after_format": "ms"}})
    async with aiohttp.ClientSession() as session:
        assert (await fetch(session, lab.via("json", "/json"))).status == 200
        limited = await fetch(session, lab.via("json", "/json"))
        assert limited.status == 429
        wait_s = int(limited.headers["retry-after-ms"]) / 1000
        deadline = time.monotonic() + wait_s + 1.0
        while (status := (await fetch(session, lab.via("json", "/json"))).status) == 429:
            assert time.monotonic() < deadline, "the bucket never refilled"
    assert status == 200


async def test_http_fault_rate_limit_without_bucket_limits_every_request(lab: Lab) -> None:
    """Without ``requests`` every matching request gets the status and the fixed Retry-After."""
    lab.proxy.add("llm", {"kind": "rate_limit", "params": {"retry_after_s": 30}})
    async with aiohttp.ClientSession() as session:
        answers = [await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body()) for _ in range(3)]
    assert [(a.status, a.headers["Retry-After"]) for a in answers] == [(429, "30")] * 3


async def test_http_fault_wrong_content_type_answers_an_html_page(lab: Lab) -> None:
    """``wrong_content_type`` answers 200 with an HTML page in the given content type, upstream untouched."""
    lab.proxy.add("json", {"kind": "wrong_content_type", "params": {"content_type": "text/html"}})
    hits = lab.upstream.hits
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/json"))
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.body == b"<html><body>upstream error</body></html>"
    assert lab.upstream.hits == hits


# -- delays -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["request", "response"])
async def test_http_fault_delay_holds_the_answer_for_the_requested_time(lab: Lab, phase: str) -> None:
    """``delay`` holds the answer's head by the asked time in either phase (upstream called either way)."""
    lab.proxy.add("json", {"kind": "delay", "params": {"seconds": 0.3, "phase": phase}})
    hits = lab.upstream.hits
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/json"))
    assert answer.body == JSON_BODY
    assert within(answer.head_s, 0.3), answer.head_s
    assert lab.upstream.hits == hits + 1


async def test_http_fault_first_token_delay_holds_only_the_first_event(lab: Lab) -> None:
    """The head arrives at once, the first event after the asked delay, the rest right behind it."""
    lab.proxy.add("llm", {"kind": "first_token_delay", "params": {"seconds": 0.4}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert answer.status == 200 and answer.error is None
    assert answer.head_s < 0.1
    assert within(answer.event_s[0], 0.4), answer.event_s[0]
    assert answer.event_s[-1] - answer.event_s[0] < 0.05
    assert answer.events[-1] == DONE


async def test_http_fault_token_delay_spaces_every_event(lab: Lab) -> None:
    """Each event after the first waits the asked time: the stream's span is (events - 1) x delay."""
    lab.proxy.add("llm", {"kind": "token_delay", "params": {"seconds": 0.05}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    events = len(answer.events)
    assert events >= 6 and answer.events[-1] == DONE
    assert answer.event_s[0] < 0.1
    assert within(answer.event_s[-1] - answer.event_s[0], (events - 1) * 0.05), answer.event_s
    gaps = [b - a for a, b in zip(answer.event_s, answer.event_s[1:], strict=False)]
    assert within(sum(gaps) / len(gaps), 0.05), gaps


async def test_http_fault_removed_delay_releases_a_held_request_at_once(lab: Lab) -> None:
    """A request held by a 30 s delay is forwarded as soon as the fault is removed."""
    rule = lab.proxy.add("json", {"kind": "delay", "params": {"seconds": 30}})
    hits = lab.upstream.hits
    async with aiohttp.ClientSession() as session:
        held = asyncio.create_task(fetch(session, lab.via("json", "/json")))
        deadline = time.monotonic() + 5
        while lab.proxy.control.get("/routes/json").json()["faults"][0]["hits"] == 0:  # the proxy holds it
            assert time.monotonic() < deadline, "the request never reached the proxy"
            await asyncio.sleep(0.02)
        assert not held.done() and lab.upstream.hits == hits
        removed_at = time.perf_counter()
        lab.proxy.control.delete(f"/routes/json/faults/{rule['id']}")
        answer = await asyncio.wait_for(held, 5)
    assert answer.body == JSON_BODY
    assert time.perf_counter() - removed_at < 0.5


async def test_http_fault_removed_token_delay_speeds_up_the_stream_in_flight(lab: Lab) -> None:
    """Removing token_delay mid-stream lets the rest of that very stream through without delay."""
    rule = lab.proxy.add("llm", {"kind": "token_delay", "params": {"seconds": 0.3}})
    async with aiohttp.ClientSession() as session:
        async with session.post(lab.via("llm", CHAT), json=chat_body()) as response:
            first = await response.content.readuntil(b"\n\n")
            await response.content.readuntil(b"\n\n")  # the second event: one delay has passed
            removed_at = time.perf_counter()
            lab.proxy.control.delete(f"/routes/llm/faults/{rule['id']}")
            rest = await response.content.read()
            took = time.perf_counter() - removed_at
    events = [first, *(e + b"\n\n" for e in rest.split(b"\n\n") if e)]
    assert len(events) >= 6 and events[-1] == DONE
    assert took < 0.2, took  # with the fault it would have been (events - 2) x 0.3 s


# -- broken streams -----------------------------------------------------------------------------------


@pytest.mark.parametrize("events", [0, 3])
async def test_http_fault_cut_after_forwards_n_events_then_breaks(lab: Lab, events: int) -> None:
    """``cut_after`` gives exactly N events, no [DONE], and a payload error (no clean chunked end)."""
    assert len(await stream(lab)) > events + 1
    lab.proxy.add("llm", {"kind": "cut_after", "params": {"events": events}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert answer.status == 200
    assert isinstance(answer.error, aiohttp.ClientPayloadError)
    assert len(answer.events) == events and DONE not in answer.events
    assert answer.body == b"".join(answer.events)


async def test_http_fault_error_event_ends_the_stream_with_an_error(lab: Lab) -> None:
    """``error_event`` sends N events, then ``event: error`` with the provider's shape, then ends cleanly."""
    lab.proxy.add("llm", {"kind": "error_event", "params": {"after": 2, "message": "busy"}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert answer.status == 200 and answer.error is None
    assert len(answer.events) == 3 and DONE not in answer.events
    assert all(is_json_event(e) for e in answer.events[:2])
    name, data = answer.events[2].decode().strip().split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {"error": {"type": "overloaded_error", "message": "busy"}}


async def test_http_fault_malformed_event_replaces_exactly_one_event(lab: Lab) -> None:
    """``malformed_event`` turns event ``at`` into non-JSON; every other event and [DONE] still arrive."""
    reference = await stream(lab)
    lab.proxy.add("llm", {"kind": "malformed_event", "params": {"at": 1}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert answer.error is None and len(answer.events) == len(reference)
    assert [i for i, e in enumerate(answer.events) if not is_json_event(e)] == [1]
    assert answer.events[1].startswith(b'data: {"choices": [{"delta": {"content": ')
    assert answer.events[-1] == DONE


async def test_http_fault_stream_faults_leave_json_answers_alone(lab: Lab) -> None:
    """Stream faults apply to ``text/event-stream`` only: a JSON completion passes whole."""
    lab.proxy.add("llm", {"kind": "cut_after", "params": {"events": 0}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body(stream=False))
    assert answer.status == 200 and answer.error is None
    assert json.loads(answer.body)["object"] == "chat.completion"


# -- broken bodies -------------------------------------------------------------------------------------


async def test_http_fault_truncate_sends_n_bytes_then_breaks(lab: Lab) -> None:
    """``truncate`` keeps the declared length, sends N bytes and closes: the client sees a payload error."""
    lab.proxy.add("json", {"kind": "truncate", "params": {"bytes": 25}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/json"))
    assert answer.status == 200
    assert answer.headers["Content-Length"] == str(len(JSON_BODY))
    assert isinstance(answer.error, aiohttp.ClientPayloadError)
    assert answer.body == JSON_BODY[:25]


async def test_http_fault_truncate_of_a_chunked_answer_breaks_it_too(lab: Lab) -> None:
    """Without a declared length the cut still shows: the chunked body never ends."""
    lab.proxy.add("json", {"kind": "truncate", "params": {"bytes": 50}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/chunked"))
    assert isinstance(answer.error, aiohttp.ClientPayloadError)
    assert answer.body == JSON_BODY[:50]


async def test_http_fault_malformed_json_keeps_status_and_headers(lab: Lab) -> None:
    """``malformed_json`` keeps the status and headers but the body no longer parses."""
    lab.proxy.add("json", {"kind": "malformed_json"})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/json"))
        again = await fetch(session, lab.via("json", "/json"))  # the connection is still usable
    assert (answer.status, answer.headers["X-Upstream"]) == (200, "json")
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.body == b'{"choices": [' and again.body == b'{"choices": ['
    with pytest.raises(ValueError):
        json.loads(answer.body)


async def test_http_fault_body_faults_leave_streams_alone(lab: Lab) -> None:
    """Body faults apply to ``application/json`` only: an SSE answer streams whole."""
    lab.proxy.add("llm", {"kind": "truncate", "params": {"bytes": 5}})
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert answer.error is None and answer.events[-1] == DONE


# -- which requests -----------------------------------------------------------------------------------


async def test_http_fault_probability_follows_the_seed(lab: Lab) -> None:
    """p=0.5 with seed 7 hits about half of 200 requests, exactly those ``random.Random(7)`` picks, and the
    same seed posted again gives the same sequence."""
    rule = {"id": "coin", "kind": "http_error", "probability": 0.5, "seed": 7, "params": {"status": 503}}
    expected_rng = random.Random(7)
    expected = [503 if expected_rng.random() < 0.5 else 200 for _ in range(200)]
    runs = []
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            lab.proxy.add("json", rule)
            runs.append([(await fetch(session, lab.via("json", "/json"))).status for _ in range(200)])
            lab.proxy.control.delete("/routes/json/faults/coin")
    assert 70 <= runs[0].count(503) <= 130
    assert runs[0] == runs[1] == expected


async def test_http_fault_body_regex_picks_the_questions_it_names(lab: Lab) -> None:
    """A body regex on 運賃 fails only the Japanese fare questions; the others are answered normally."""
    lab.proxy.add("llm", {"kind": "http_error", "match": {"method": "POST", "path": "^/v1/chat/completions$",
                                                          "body": "運賃"}, "params": {"status": 503}})
    questions = {"東京から大阪までの運賃はいくらですか？": 503, "営業時間を教えてください": 200,
                 "What is the fare to Osaka?": 200, "運賃の払い戻しは？": 503}
    async with aiohttp.ClientSession() as session:
        got = {q: (await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body(q, stream=False))).status
               for q in questions}
    assert got == questions


async def test_http_fault_metrics_count_stream_faults_only_when_applied(lab: Lab) -> None:
    """A stream fault that met a JSON answer is a hit of the rule but not an applied fault."""
    kind = "malformed_event"
    before = lab.proxy.metric("http_fault_proxy_faults_applied_total", route="llm", kind=kind)
    lab.proxy.add("llm", {"id": "m", "kind": kind, "params": {"at": 0}})
    async with aiohttp.ClientSession() as session:
        await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body(stream=False))
        await fetch(session, lab.via("llm", CHAT), "POST", json=chat_body())
    assert lab.proxy.metric("http_fault_proxy_faults_applied_total", route="llm", kind=kind) == before + 1
    [stored] = lab.proxy.control.get("/routes/llm").json()["faults"]
    assert stored["hits"] == 2
