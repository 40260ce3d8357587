"""``DependencyClient.open_stream`` against a small real SSE server: first token, retries, the breaker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from system_under_test.gateway.breaker import BreakerConfig, BreakerState
from system_under_test.gateway.client import CallTrace
from system_under_test.gateway.errors import DependencyHttpError, StreamFailed
from system_under_test.gateway.retry import Deadline
from system_under_test.gateway.upstream_stream import StreamTiming

from tests.unit.system_under_test.gateway.test_client import Handler, client, serve, status_answer

TIMING = StreamTiming(first_token_s=0.3, idle_s=0.3)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def sse(*texts: str, done: bool = True, stall: bool = False) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for text in texts:
            chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if stall:
            await asyncio.sleep(5)
        if done:
            await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    return answer


async def test_open_stream_returns_at_the_first_token_and_settles_success_at_done(
    session: aiohttp.ClientSession,
) -> None:
    """The first token comes with the stream; the breaker hears of the call only at [DONE], as a success."""
    _, test_server = await serve([sse("a", "b")])
    dep = client(session, str(test_server.make_url("")))
    trace = CallTrace()
    try:
        stream = await dep.open_stream("/v1", {}, Deadline(5), trace, TIMING)
        assert stream.first == "a" and trace.outcome == "streaming"
        assert await stream.next_token() == "b"
        assert await stream.next_token() is None
        stream.close()
    finally:
        await test_server.close()
    assert trace.outcome == "ok" and dep.breaker.failure_rate() == 0.0
    assert dep._metrics.registry.get_sample_value("chatbot_dependency_calls_total",
                                                  {"dependency": "vector-db", "outcome": "ok"}) == 1


async def test_open_stream_cut_after_the_first_token_is_a_breaker_failure(session: aiohttp.ClientSession) -> None:
    """A 200 stream that ends without [DONE] after a token fails the call: the breaker counts it."""
    server, test_server = await serve([sse("a", done=False), sse("x")])
    dep = client(session, str(test_server.make_url("")))
    trace = CallTrace()
    try:
        stream = await dep.open_stream("/v1", {}, Deadline(5), trace, TIMING)
        with pytest.raises(StreamFailed):
            await stream.next_token()
        stream.close()
    finally:
        await test_server.close()
    assert server.calls == 1, "nothing is retried after the first token"
    assert trace.outcome == "StreamCut" and dep.breaker.failure_rate() == 1.0


async def test_open_stream_retries_a_cut_before_the_first_token(session: aiohttp.ClientSession) -> None:
    """A stream cut before any token is retried; the retry's first token is returned."""
    server, test_server = await serve([sse(done=False), sse("fresh")])
    dep = client(session, str(test_server.make_url("")))
    trace = CallTrace()
    try:
        stream = await dep.open_stream("/v1", {}, Deadline(5), trace, TIMING)
        stream.close()
    finally:
        await test_server.close()
    assert stream.first == "fresh" and server.calls == 2 and trace.retries == 1


async def test_open_stream_stall_before_the_first_token_is_not_retried(session: aiohttp.ClientSession) -> None:
    """No token within the first-token timeout: FirstTokenTimeout, one attempt, a breaker failure."""
    server, test_server = await serve([sse(stall=True), sse("never")])
    dep = client(session, str(test_server.make_url("")))
    try:
        with pytest.raises(StreamFailed) as info:
            await dep.open_stream("/v1", {}, Deadline(5), CallTrace(), TIMING)
    finally:
        await test_server.close()
    assert info.value.kind == "FirstTokenTimeout" and server.calls == 1
    assert dep.breaker.failure_rate() == 1.0


async def test_open_stream_headers_that_never_come_are_a_first_token_timeout(session: aiohttp.ClientSession) -> None:
    """An upstream that holds even its status line past the first-token timeout fails the same way."""

    async def hang(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    _, test_server = await serve([hang])
    dep = client(session, str(test_server.make_url("")), attempts=1)
    try:
        with pytest.raises(StreamFailed) as info:
            await dep.open_stream("/v1", {}, Deadline(5), CallTrace(), TIMING)
    finally:
        await test_server.close()
    assert info.value.kind == "FirstTokenTimeout"


async def test_open_stream_429_with_retry_after_is_honoured(session: aiohttp.ClientSession) -> None:
    """A 429 before the stream starts follows the same Retry-After rule as any call."""
    server, test_server = await serve([status_answer(429, {"retry-after-ms": "50"}), sse("a")])
    dep = client(session, str(test_server.make_url("")))
    try:
        stream = await dep.open_stream("/v1", {}, Deadline(5), CallTrace(), TIMING)
        stream.close()
    finally:
        await test_server.close()
    assert stream.first == "a" and server.calls == 2
    assert dep.breaker.failure_rate() == 0.0


async def test_open_stream_json_instead_of_sse_is_a_bad_response(session: aiohttp.ClientSession) -> None:
    """A 200 JSON answer to a stream request is not a stream: BadResponse, counted as a failure."""

    async def json_answer(_: web.Request) -> web.StreamResponse:
        return web.json_response({"choices": []})

    _, test_server = await serve([json_answer])
    dep = client(session, str(test_server.make_url("")), attempts=1)
    try:
        with pytest.raises(DependencyHttpError) as info:
            await dep.open_stream("/v1", {}, Deadline(5), CallTrace(), TIMING)
    finally:
        await test_server.close()
    assert info.value.kind == "BadResponse" and dep.breaker.failure_rate() == 1.0


async def test_open_stream_abandoned_releases_a_half_open_trial(session: aiohttp.ClientSession) -> None:
    """A user who hangs up mid-stream gives the breaker's trial slot back without judging the call."""
    _, test_server = await serve([sse("a", "b")])
    dep = client(session, str(test_server.make_url("")),
                 breaker=BreakerConfig(min_calls=1, reset_timeout_s=0.0, half_open_max_calls=1, success_threshold=1))
    dep.breaker.record_failure(dep.breaker.acquire(), "ConnectError")  # opens; reset_timeout 0: half-open at once
    assert dep.breaker.state is BreakerState.HALF_OPEN
    try:
        stream = await dep.open_stream("/v1", {}, Deadline(5), CallTrace(), TIMING)
        assert not dep.breaker.allows_calls, "the one trial slot is taken while the stream runs"
        stream.close()
    finally:
        await test_server.close()
    assert dep.breaker.allows_calls and dep.breaker.state is BreakerState.HALF_OPEN
