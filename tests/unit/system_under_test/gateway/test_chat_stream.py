"""``ChatService.stream_answer``: meta / token / done for every way the LLM stream can go, scripted.

The LLM is a stand-in whose ``open_stream`` builds the real ``TokenStream``/``UpstreamStream`` over a
scripted byte sequence, so the relay state machine under test is the real one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.gateway import flaws
from system_under_test.gateway.chat import ChatService
from system_under_test.gateway.client import CallTrace, DependencyClient
from system_under_test.gateway.errors import DependencyError, StreamFailed
from system_under_test.gateway.faq import DEFAULT_FAQ_PATH, Faq
from system_under_test.gateway.modes import Language, Mode
from system_under_test.gateway.monitor import HealthMonitor
from system_under_test.gateway.retry import Deadline
from system_under_test.gateway.settings import GatewaySettings
from system_under_test.gateway.stream_events import StreamEvent, StreamRecord, split_for_stream
from system_under_test.gateway.upstream_stream import StreamTiming, TokenStream, UpstreamStream
from system_under_test.gateway.variants import Flaw

from tests.unit.system_under_test.gateway.test_flaws import VECTORDB, AlwaysHealthy, ScriptedClient

QUESTION = "How do I get a refund?"


def content(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': {'content': text}}]})}\n\n".encode()


DONE = b"data: [DONE]\n\n"


async def scripted(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class Response:
    closed = False

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


class StreamingLlm(ScriptedClient):
    """The LLM: streams ``chunks`` through the real token stream, or fails before the first token."""

    def __init__(self, chunks: list[bytes] | None) -> None:
        super().__init__("llm", {})
        self.chunks = chunks
        self.settled: list[str] = []
        self.response = Response()

    async def open_stream(self, path: str, body: dict[str, Any], deadline: Deadline, trace: CallTrace,
                          timing: StreamTiming) -> UpstreamStream:
        self.calls.append(path)
        assert body["stream"] is True
        if self.chunks is None:
            trace.outcome = "FirstTokenTimeout"
            trace.errors.append(trace.outcome)
            raise StreamFailed(self.name, trace.outcome)
        tokens = TokenStream(scripted(self.chunks), self.name, started_at=0.0, first_token_s=5.0, idle_s=5.0,
                             overall_s=30.0, clock=lambda: 0.0)
        first = await tokens.next_token()
        assert first is not None
        stream = UpstreamStream(tokens, first, self.response)
        stream.bind(self._end, lambda: self.settled.append("abandoned"))
        return stream

    def _end(self, error: DependencyError | None) -> None:
        self.settled.append(error.kind if error else "ok")


def service(llm: StreamingLlm, vectordb: dict[str, Any] | None = VECTORDB, flaw: Flaw | None = None,
            cache: bool = True) -> tuple[ChatService, ScriptedClient]:
    vec = ScriptedClient("vector-db", vectordb)
    faq = Faq.load(DEFAULT_FAQ_PATH, HashingEmbedder(), 0.5)
    chat = flaws.chat_class(flaw)(GatewaySettings(cache_answers=cache), cast(DependencyClient, vec),
                                  cast(DependencyClient, llm), cast(HealthMonitor, AlwaysHealthy()), faq)
    return chat, vec


def collect(chat: ChatService, language: Language = "en") -> tuple[list[StreamEvent], StreamRecord]:
    async def main() -> list[StreamEvent]:
        events = [event async for event in chat.stream_answer(QUESTION, language, record)]
        await chat.close()
        return events

    record = StreamRecord("r1")
    return asyncio.run(main()), record


def text(events: list[StreamEvent]) -> str:
    return "".join(e.data["text"] for e in events if e.name == "token")


def test_stream_normal_relays_each_upstream_piece_and_caches_the_answer() -> None:
    """meta normal with sources, one token per upstream piece, done complete; the full answer is cached."""
    llm = StreamingLlm([content("Refunds "), content("at the "), content("counter."), DONE])
    chat, vec = service(llm)
    events, record = collect(chat)
    assert [e.name for e in events] == ["meta", "token", "token", "token", "done"]
    assert events[0].data["mode"] == "normal" and events[0].data["sources"][0]["id"] == "p1"
    assert events[0].data["request_id"] == "r1" and events[0].data["notice"] is None
    assert text(events) == "Refunds at the counter."
    assert events[-1].data == {"outcome": "complete", "mode": "normal", "notice": None, "tokens": 3}
    assert (record.mode, record.outcome, record.tokens) == (Mode.NORMAL, "complete", 3)
    assert llm.settled == ["ok"] and llm.response.closed
    assert "/cache/put" in vec.calls


def test_stream_failing_before_the_first_token_streams_the_degraded_answer() -> None:
    """No first token: the cached answer as tokens, degraded-cache-only with its notice, complete."""
    chat, _ = service(StreamingLlm(None))
    events, record = collect(chat)
    assert events[0].data["mode"] == "degraded-cache-only" and events[0].data["cached"] is True
    assert events[0].data["notice"]
    assert text(events) == "cached answer"
    assert events[-1].data["outcome"] == "complete" and record.outcome == "complete"


def test_stream_with_both_dependencies_failing_streams_a_faq_answer() -> None:
    """No vector-db and no first token: static-only, the FAQ answer split into several tokens."""
    chat, _ = service(StreamingLlm(None), vectordb=None)
    events, _ = collect(chat)
    assert events[0].data["mode"] == "static-only"
    assert sum(e.name == "token" for e in events) > 3
    assert events[-1].data["outcome"] == "complete"


@pytest.mark.parametrize(("language", "word"), [("en", "interrupted"), ("ja", "中断")])
def test_stream_broken_after_the_first_token_ends_partial(language: Language, word: str) -> None:
    """A cut after two pieces: both relayed, done partial with the notice in the user's language, not cached."""
    llm = StreamingLlm([content("Refunds "), content("at ")])
    chat, vec = service(llm)
    events, record = collect(chat, language)
    assert text(events) == "Refunds at "
    done = events[-1].data
    assert done["outcome"] == "partial" and word in done["notice"] and done["tokens"] == 2
    assert record.interruption == "StreamCut" and llm.settled == ["StreamCut"]
    assert "/cache/put" not in vec.calls


def test_stream_without_the_vector_db_is_degraded_no_context() -> None:
    """The LLM streams but retrieval failed: meta says degraded-no-context with its notice, no sources."""
    chat, _ = service(StreamingLlm([content("general"), DONE]), vectordb=None)
    events, _ = collect(chat)
    assert events[0].data["mode"] == "degraded-no-context" and events[0].data["notice"]
    assert events[0].data["sources"] == [] and events[-1].data["mode"] == "degraded-no-context"


def test_stream_closed_by_the_user_abandons_the_upstream() -> None:
    """A user who hangs up after the first token: the LLM stream is closed and its call abandoned."""
    llm = StreamingLlm([content("a"), content("b"), content("c"), DONE])
    chat, _ = service(llm)

    async def main() -> list[str]:
        events = chat.stream_answer(QUESTION, "en", StreamRecord("r"))
        names: list[str] = [(await anext(events)).name, (await anext(events)).name]
        await events.aclose()
        return names

    assert asyncio.run(main()) == ["meta", "token"]
    assert llm.settled == ["abandoned"] and llm.response.closed


@pytest.mark.parametrize("message", [
    "We are busy right now. Please try again in a little while.",
    "ただいま混み合っております。しばらくしてから再度お試しください。",
    "Line one\nline two  ",
    "x",
])
def test_split_for_stream_pieces_join_back_to_the_text(message: str) -> None:
    """The degraded answer's pieces concatenate to the exact message, each at most 8 visible characters."""
    pieces = split_for_stream(message)
    assert "".join(pieces) == message
    assert all(len(p.strip()) <= 8 for p in pieces) and len(pieces) >= len(message) // 8


def test_stream_event_encodes_as_named_sse() -> None:
    """An event is 'event: <name>', one data line of compact JSON (non-ASCII kept), and a blank line."""
    encoded = StreamEvent("token", {"text": "運賃\n"}).encode()
    assert encoded == 'event: token\ndata: {"text":"運賃\\n"}\n\n'.encode()
