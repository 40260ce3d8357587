"""Reading the LLM's SSE answer: the decoder, chunk interpretation and the token stream's three clocks.

The upstream is a scripted async iterator of bytes; a stall is an iterator that waits on an event
nobody sets, so the stream's own timeout is what ends it (the tests assert which error, not how long).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from system_under_test.gateway.errors import DependencyError, StreamFailed
from system_under_test.gateway.upstream_stream import (
    SseDecoder,
    SseEvent,
    TokenStream,
    UpstreamStream,
    chunk_text,
)

ROLE = b'data: {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}\n\n'
DONE = b"data: [DONE]\n\n"


def content(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': text}}]})}\n\n".encode()


async def scripted(*chunks: bytes, stall: bool = False, error: BaseException | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if error is not None:
        raise error
    if stall:
        await asyncio.Event().wait()


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def tokens(chunks: AsyncIterator[bytes], *, first: float = 0.05, idle: float = 0.05, overall: float = 10.0,
           clock: Clock | None = None) -> TokenStream:
    clock = clock or Clock()
    return TokenStream(chunks, "llm", started_at=clock.now, first_token_s=first, idle_s=idle, overall_s=overall,
                       clock=clock)


async def drain(stream: TokenStream) -> list[str]:
    out: list[str] = []
    while (text := await stream.next_token()) is not None:
        out.append(text)
    return out


def test_sse_decoder_joins_events_split_anywhere() -> None:
    """Events split across chunks (even inside a UTF-8 character) come out whole; comments are skipped."""
    raw = ': keep-alive\n\nevent: meta\r\ndata: {"a":\ndata: "運賃"}\r\n\r\ndata: [DONE]\n\n'.encode()
    decoder = SseDecoder()
    events = [event for i in range(len(raw)) for event in decoder.feed(raw[i : i + 1])]
    assert events == [SseEvent("meta", '{"a":\n"運賃"}'), SseEvent("message", "[DONE]")]


def test_chunk_text_reads_content_role_done_and_usage() -> None:
    """Content deltas give text; role, finish and usage chunks give ''; [DONE] gives None."""
    assert chunk_text(SseEvent("message", content("hi").decode()[6:].strip()), "llm") == "hi"
    assert chunk_text(SseEvent("message", ROLE.decode()[6:].strip()), "llm") == ""
    assert chunk_text(SseEvent("message", '{"choices": [], "usage": {"total_tokens": 3}}'), "llm") == ""
    assert chunk_text(SseEvent("message", "[DONE]"), "llm") is None


@pytest.mark.parametrize(("event", "kind", "retryable"), [
    (SseEvent("error", '{"error": {"type": "overloaded_error", "message": "busy"}}'), "StreamError", True),
    (SseEvent("message", '{"error": {"type": "server_error", "message": "boom"}}'), "StreamError", True),
    (SseEvent("message", '{"choices": [{"delta": {"content": '), "MalformedEvent", False),
    (SseEvent("message", "[1, 2]"), "MalformedEvent", False),
    (SseEvent("message", '{"choices": {"delta": {}}}'), "MalformedEvent", False),
    (SseEvent("message", '{"choices": [{"delta": {"content": 7}}]}'), "MalformedEvent", False),
])
def test_chunk_text_raises_for_error_and_malformed_events(event: SseEvent, kind: str, retryable: bool) -> None:
    """An error event or chunk, and data that is not a chunk object, are stream failures of their kind."""
    with pytest.raises(StreamFailed) as caught:
        chunk_text(event, "llm")
    assert caught.value.kind == kind and caught.value.retryable is retryable
    assert caught.value.counts_as_failure


async def test_token_stream_yields_content_until_done() -> None:
    """Role chunk skipped, content pieces in order, then None at [DONE]; nothing read after it."""
    stream = tokens(scripted(ROLE, content("a"), content("b") + content("c"), DONE, content("late")))
    assert await drain(stream) == ["a", "b", "c"]
    assert stream.tokens == 3
    assert await stream.next_token() is None


@pytest.mark.parametrize(("chunks", "kind"), [
    ((ROLE, content("a")), "StreamCut"),
    ((ROLE, content("a"), b'event: error\ndata: {"error": {"type": "overloaded_error"}}\n\n'), "StreamError"),
    ((ROLE, content("a"), b'data: {"choices": [{"delta": {"content": \n\n'), "MalformedEvent"),
])
async def test_token_stream_failure_after_the_first_token(chunks: tuple[bytes, ...], kind: str) -> None:
    """A cut, an error event or a malformed event after a token: the token first, then StreamFailed."""
    stream = tokens(scripted(*chunks))
    assert await stream.next_token() == "a"
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == kind


async def test_token_stream_transport_error_is_a_cut() -> None:
    """An error raised by the byte source (a reset, a payload error) is translated to StreamCut."""
    stream = tokens(scripted(ROLE, content("a"), error=ConnectionResetError("reset by peer")))
    assert await stream.next_token() == "a"
    with pytest.raises(StreamFailed, match="ConnectionResetError") as caught:
        await stream.next_token()
    assert caught.value.kind == "StreamCut" and caught.value.retryable


async def test_token_stream_stall_before_the_first_token_is_a_first_token_timeout() -> None:
    """A role chunk then silence: the first-token timeout fires even though an event arrived."""
    stream = tokens(scripted(ROLE, stall=True), first=0.02)
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == "FirstTokenTimeout" and not caught.value.retryable


async def test_token_stream_stall_after_the_first_token_is_an_idle_timeout() -> None:
    """A token then silence: the idle timeout between events fires."""
    stream = tokens(scripted(ROLE, content("a"), stall=True), idle=0.02)
    assert await stream.next_token() == "a"
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == "IdleTimeout"


async def test_token_stream_first_token_clock_counts_from_the_request() -> None:
    """Time already spent waiting for the headers counts: with the first-token time gone, no wait at all."""
    clock = Clock()
    stream = tokens(scripted(ROLE, content("a")), first=1.0, clock=clock)
    clock.now += 1.0
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == "FirstTokenTimeout"


async def test_token_stream_overall_end_bounds_a_trickle() -> None:
    """Tokens that each come within the idle timeout still stop at the overall end ("Timeout")."""
    clock = Clock()
    stream = tokens(scripted(ROLE, content("a"), content("b"), content("c")), idle=5.0, overall=3.0, clock=clock)
    assert await stream.next_token() == "a"
    clock.now += 2.0
    assert await stream.next_token() == "b"
    clock.now += 1.0
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == "Timeout"


async def test_token_stream_first_token_bound_by_a_shorter_overall_end_is_a_timeout() -> None:
    """When the deadline is nearer than the first-token timeout, running out of it is a plain Timeout."""
    stream = tokens(scripted(ROLE, stall=True), first=5.0, overall=0.02)
    with pytest.raises(StreamFailed) as caught:
        await stream.next_token()
    assert caught.value.kind == "Timeout"


class Response:
    def __init__(self) -> None:
        self.closed = 0
        self.released = 0

    def release(self) -> None:
        self.released += 1

    def close(self) -> None:
        self.closed += 1


def upstream(chunks: AsyncIterator[bytes]) -> tuple[UpstreamStream, list[object], Response]:
    calls: list[object] = []
    response = Response()
    stream = UpstreamStream(tokens(chunks), "", response)
    stream.bind(lambda error: calls.append(error or "success"), lambda: calls.append("abandoned"))
    return stream, calls, response


async def test_upstream_stream_settles_success_once_at_done() -> None:
    """[DONE] settles the call as a success exactly once and releases the response for reuse."""
    stream, calls, response = upstream(scripted(content("a"), DONE))
    assert await stream.next_token() == "a"
    assert calls == []
    assert await stream.next_token() is None
    assert response.released == 1 and response.closed == 0
    stream.close()
    assert calls == ["success"]


async def test_upstream_stream_settles_the_breaking_error() -> None:
    """A cut settles the call with its StreamFailed (a failure for the breaker), then re-raises it."""
    stream, calls, response = upstream(scripted(content("a")))
    await stream.next_token()
    with pytest.raises(StreamFailed):
        await stream.next_token()
    stream.close()
    assert response.released == 0 and response.closed >= 1
    assert len(calls) == 1 and isinstance(calls[0], DependencyError) and calls[0].kind == "StreamCut"


async def test_upstream_stream_closed_early_is_abandoned_not_judged() -> None:
    """A reader that stops before the end (the user hung up) abandons the call: neither success nor failure."""
    stream, calls, response = upstream(scripted(content("a"), content("b"), DONE))
    await stream.next_token()
    stream.close()
    stream.close()
    assert calls == ["abandoned"] and response.closed == 2
