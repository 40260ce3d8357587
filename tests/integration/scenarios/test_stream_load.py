"""Streaming Locust users (POST /chat/stream) against real servers on loopback, driven through LoadDriver.

Two servers: a small aiohttp one that replays recorded SSE answers (complete, partial, cut, stalled,
error event, invalid input), where each answer's meta names what it is so a record can be matched
with what was sent; and the real reference system, whose gateway streams its real answers.
Nothing here imports Locust: the runner always runs in its own process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from scenarios.load.driver import LoadDriver
from scenarios.load.readers import RecordReader
from scenarios.load.spec import LoadSpec
from scenarios.records import RequestRecord
from system.local.supervisor import LocalSupervisor
from tests.integration.scenarios.test_locust_load import child_env, read_line, stop_process
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN_GAP_S = 0.03
# Questions name the answer the server replays; "mode" in its meta echoes the kind, so records can
# be told apart. Token counts are what the server sends before it ends, cuts or stalls.
KINDS = {"complete": 5, "partial": 2, "cut": 3, "stall": 1, "error": 2, "invalid": 0}
SSE_SERVER = r"""
import asyncio, json, sys
from aiohttp import web

GAP = float(sys.argv[1])
TOKENS = json.loads(sys.argv[2])
stalled = {}  # message -> streams stalled on it now

def event(name, data):
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

async def chat(request):
    return web.json_response({"message": "ok", "mode": "normal", "notice": None, "sources": [],
                              "request_id": "c", "cached": False})

async def stream(request):
    message = (await request.json())["message"]
    kind = message.split()[0]
    if kind == "invalid":
        return web.json_response({"detail": "message: too long", "mode": "invalid"}, status=422)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    await asyncio.sleep(GAP)
    await response.write(event("meta", {"request_id": "s", "mode": kind, "notice": None, "sources": [],
                                        "cached": False}))
    for i in range(TOKENS[kind]):
        await asyncio.sleep(GAP)
        await response.write(event("token", {"text": f" w{i}"}))
    if kind == "stall":
        stalled[message] = stalled.get(message, 0) + 1
        try:
            await asyncio.sleep(60)
        finally:
            stalled[message] -= 1
    elif kind == "cut":
        request.transport.abort()  # no done, no end of the chunked body
        return response
    elif kind == "error":
        await response.write(event("error", {"error": {"type": "overloaded_error", "message": "busy"}}))
    else:
        notice = "the answer was interrupted" if kind == "partial" else None
        await response.write(event("done", {"outcome": kind, "mode": kind, "notice": notice,
                                            "tokens": TOKENS[kind]}))
    await response.write_eof()
    return response

async def waiting(request):
    return web.json_response({"stalled": stalled.get(request.query["message"], 0)})

async def main():
    app = web.Application()
    app.router.add_get("/stalled", waiting)
    app.router.add_post("/chat", chat)
    app.router.add_post("/chat/stream", stream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def sse_url() -> Iterator[str]:
    """The recorded-answer server on a free loopback port, stopped by PID afterwards."""
    proc = subprocess.Popen([sys.executable, "-c", SSE_SERVER, str(TOKEN_GAP_S), json.dumps(KINDS)],
                            stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        yield f"http://127.0.0.1:{int(read_line(proc, 15, 'the SSE server'))}"
    finally:
        stop_process(proc)


@pytest.fixture
def drivers() -> Iterator[list[LoadDriver]]:
    """Drivers a test started; stopped afterwards even when the test failed."""
    started: list[LoadDriver] = []
    yield started
    for driver in started:
        driver.stop()


def run_until(drivers: list[LoadDriver], spec: LoadSpec, records: Path,
              enough: Callable[[list[RequestRecord]], bool], timeout_s: float) -> list[RequestRecord]:
    """Start the load, read records until ``enough(records)`` holds, stop, return every record."""
    driver = LoadDriver(spec, records)
    drivers.append(driver)
    driver.start()
    reader = RecordReader(records)
    seen: list[RequestRecord] = []

    def probe() -> bool:
        seen.extend(reader.read_new())
        return enough(seen)

    wait_until(probe, timeout_s, "enough stream records")
    driver.stop()
    seen.extend(reader.read_new())
    assert reader.malformed_lines == 0
    return seen


def test_streaming_users_record_what_each_answer_did(sse_url: str, tmp_path: Path, drivers: list[LoadDriver]) -> None:
    """Each kind of recorded answer gives its outcome, error, token count and a TTFT inside its latency."""
    questions = tmp_path / "questions.txt"
    questions.write_text("".join(f"{kind} question\n" for kind in KINDS))
    spec = LoadSpec(host=sse_url, users=6, spawn_rate=100, seed=5, timeout_s=1.0, stream_share=1.0,
                    questions=questions, max_duration_s=60)
    records = run_until(drivers, spec, tmp_path / "records",
                        lambda seen: {r.mode for r in seen} >= set(KINDS), 30)
    by_kind: dict[str, list[RequestRecord]] = {}
    for r in records:
        if r.error != "Cancelled":
            by_kind.setdefault(str(r.mode), []).append(r)
    expected = {"complete": ("complete", None), "partial": ("partial", None), "cut": ("error", "StreamCut"),
                "stall": ("error", "Timeout"), "error": ("error", "ErrorEvent"), "invalid": ("error", None)}
    for kind, (outcome, error) in expected.items():
        for r in by_kind[kind]:
            assert (r.name, r.outcome, r.error, r.tokens) == ("chat-stream", outcome, error, KINDS[kind]), r
            assert r.status == (422 if kind == "invalid" else 200)
            if KINDS[kind]:
                assert r.ttft_ms is not None and 0 < r.ttft_ms < r.latency_s * 1000, r
                # meta and the first token each wait one gap on the server
                assert r.ttft_ms >= 2 * TOKEN_GAP_S * 1000 * 0.9, r
            else:
                assert r.ttft_ms is None
    assert all(r.notice for r in by_kind["partial"]) and not any(r.notice for r in by_kind["complete"])
    # The client bound ends a stalled stream near the request timeout, not at the server's 60 s.
    assert all(0.95 <= r.latency_s < 2.0 for r in by_kind["stall"])
    for r in by_kind["complete"]:
        # 4 gaps of 30 ms between 5 tokens: about 33/s (a busy client may read two events together)
        assert r.tokens_per_s is not None and 5 < r.tokens_per_s < 3 / TOKEN_GAP_S, r
    assert {r.user for r in records} == {f"load-local-{i}" for i in range(6)}


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_share_half_makes_two_of_four_users_stream(sse_url: str, tmp_path: Path, drivers: list[LoadDriver],
                                                          workers: int) -> None:
    """With a share of 0.5, two of four users ask on /chat/stream and two on /chat, each user one kind,
    in one process or spread over two workers."""
    questions = tmp_path / "questions.txt"
    questions.write_text("complete question\n")
    spec = LoadSpec(host=sse_url, users=4, spawn_rate=100, stream_share=0.5, workers=workers, questions=questions,
                    max_duration_s=60)
    records = run_until(drivers, spec, tmp_path / "records",
                        lambda seen: len({r.user for r in seen}) == 4 and len(seen) > 40, 30)
    streaming = {r.user for r in records if r.name == "chat-stream"}
    plain = {r.user for r in records if r.name == "chat"}
    assert len(streaming) == 2 and len(plain) == 2 and not streaming & plain
    assert {r.outcome for r in records if r.name == "chat"} == {None}
    assert {r.outcome for r in records if r.name == "chat-stream" and r.error != "Cancelled"} == {"complete"}


def stream_once(base: str, message: str) -> tuple[int, dict[str, object]]:
    """The gateway's answer to ``message`` read with another client: token events, and the done event."""
    tokens, done, name = 0, {}, ""
    with httpx.stream("POST", base + "/chat/stream", json={"message": message, "user_id": "probe"},
                      timeout=30.0, trust_env=False) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: ") and name == "token":
                tokens += 1
            elif line.startswith("data: ") and name == "done":
                done = json.loads(line[len("data: "):])
    return tokens, done


def test_streaming_users_get_complete_answers_from_the_reference_gateway(
    system: LocalSupervisor, tmp_path: Path, drivers: list[LoadDriver]
) -> None:
    """A few seconds of real streams: complete, normal, TTFT inside latency, as many tokens as sent."""
    base = system.address("gateway")
    question = "How much does it cost to reissue a lost Tsubame Card?"
    sent, done = stream_once(base, question)
    assert sent > 1 and done["outcome"] == "complete" and done["tokens"] == sent
    questions = tmp_path / "questions.txt"
    questions.write_text(question + "\n")
    spec = LoadSpec(host=base, users=4, spawn_rate=100, stream_share=1.0, questions=questions, max_duration_s=60)
    started = time.monotonic()
    records = run_until(drivers, spec, tmp_path / "records",
                        lambda seen: sum(r.t >= started + 2.0 for r in seen) >= 10, 40)
    judged = [r for r in records if r.error != "Cancelled"]
    assert len(judged) >= 10
    for r in judged:
        assert (r.status, r.outcome, r.mode, r.error) == (200, "complete", "normal", None), r
        assert r.tokens == sent, r
        assert r.ttft_ms is not None and 0 < r.ttft_ms < r.latency_s * 1000, r
        assert r.tokens_per_s is not None and r.tokens_per_s > 0


def test_stop_cancels_each_stalled_stream_once(sse_url: str, tmp_path: Path, drivers: list[LoadDriver]) -> None:
    """Users stopped while their streams stall write one Cancelled record each, with the token they got."""
    questions = tmp_path / "questions.txt"
    questions.write_text("stall until cancelled\n")
    spec = LoadSpec(host=sse_url, users=2, spawn_rate=100, stream_share=1.0, questions=questions, drain_s=0.2,
                    timeout_s=30.0, max_duration_s=60)
    driver = LoadDriver(spec, tmp_path / "records")
    drivers.append(driver)
    driver.start()

    def stalled() -> bool:
        answer = httpx.get(f"{sse_url}/stalled", params={"message": "stall until cancelled"}, trust_env=False,
                           timeout=5)
        return int(answer.json()["stalled"]) >= 2

    wait_until(stalled, 15, "two streams stalled on the server")
    driver.stop()
    seen = RecordReader(tmp_path / "records").read_new()
    assert [(r.outcome, r.error, r.tokens) for r in seen] == [("error", "Cancelled", 1)] * 2
    assert all(r.ttft_ms is not None and r.latency_s < 30.0 for r in seen)
