"""Answering one chat message: which dependencies to call, in what order, and what to fall back to.

    LLM available?  no ──────────────────────────────┐
       │ yes                                          v
    search vector-db (retrieval slice of deadline)  cache search on vector-db
       │ ok / failed                                  │ hit: cached answer   miss: "busy"
    LLM completion (with or without context)          │ failed ──> FAQ or maintenance message
       │ ok: normal / degraded-no-context             │
       │ failed ────────────────────────────────────>─┘

A dependency failure never becomes an error response: the degraded answer *is* the answer, and the
mode says which one it was. Normal answers are written to the answer cache in the background so the
user never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from .client import CallTrace, DependencyClient
from .errors import DependencyError
from .faq import Faq
from .modes import (
    BUSY_MESSAGE,
    INTERRUPTED_NOTICE,
    MAINTENANCE_MESSAGE,
    Language,
    Mode,
    language_of_text,
    notice_for,
)
from .monitor import HealthMonitor
from .retry import Deadline
from .settings import GatewaySettings
from .stream_events import StreamEvent, StreamRecord, done, meta, split_for_stream, token
from .upstream_stream import StreamTiming, UpstreamStream

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    score: float


@dataclass
class ChatOutcome:
    """The answer to one message, plus what it took (for the response, the log line and metrics)."""

    message: str
    mode: Mode
    notice: str | None
    sources: list[Source]
    cached: bool
    traces: dict[str, CallTrace] = field(default_factory=dict)


def dependency_available(client: DependencyClient, monitor: HealthMonitor) -> bool:
    """Worth calling now: its breaker lets calls through and its probe has not given up on it."""
    return client.breaker.allows_calls and monitor.healthy(client.name)


def _sources(hits: list[dict[str, Any]]) -> list[Source]:
    return [Source(str(h["id"]), str(h["title"]), float(h["score"])) for h in hits]


def build_messages(question: str, hits: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The OpenAI chat messages: retrieved passages as a system "Context:" message, then the question."""
    messages: list[dict[str, str]] = []
    if hits is not None:
        passages = "\n\n".join(f"[{h['id']}] {h['title']}: {h['text']}" for h in hits)
        messages.append({"role": "system", "content": "Context:\n" + passages})
    messages.append({"role": "user", "content": question})
    return messages


class ChatService:
    """Turns a question into an answer in the best mode the dependencies allow right now."""

    def __init__(
        self,
        settings: GatewaySettings,
        vectordb: DependencyClient,
        llm: DependencyClient,
        monitor: HealthMonitor,
        faq: Faq,
    ) -> None:
        self._settings = settings
        self._vectordb = vectordb
        self._llm = llm
        self._monitor = monitor
        self._faq = faq
        self._background: set[asyncio.Task[None]] = set()

    async def availability(self) -> tuple[bool, bool]:
        """(vector-db, LLM) worth calling for this request; from state already at hand, no I/O."""
        return (dependency_available(self._vectordb, self._monitor),
                dependency_available(self._llm, self._monitor))

    async def answer(self, question: str, language: Language) -> ChatOutcome:
        deadline = Deadline(self._settings.request_deadline_s)
        vec_trace, llm_trace = CallTrace(), CallTrace()
        traces = {self._vectordb.name: vec_trace, self._llm.name: llm_trace}
        vectordb_up, llm_up = await self.availability()

        if llm_up:
            hits, vectordb_up = await self._retrieve(question, vectordb_up, deadline, vec_trace)
            text = await self._complete(question, hits, deadline, llm_trace)
            if text is not None:
                if hits is not None:
                    self._remember(question, text)
                    return ChatOutcome(text, Mode.NORMAL, None, _sources(hits), False, traces)
                mode = Mode.DEGRADED_NO_CONTEXT
                return ChatOutcome(text, mode, notice_for(mode, language), [], False, traces)
        else:
            llm_trace.outcome = "unavailable"
        return await self._degraded(question, language, deadline, traces, vectordb_up)

    async def stream_answer(
        self, question: str, language: Language, record: StreamRecord
    ) -> AsyncGenerator[StreamEvent, None]:
        """The answer as ``meta``, ``token``... ``done`` events (stream_events.py); fills in ``record``.

        The same choices as ``answer``, with one more failure point: the LLM stream can break after
        its first token, when the mode is already told. Before it, any failure degrades like ``/chat``
        (the degraded answer streamed as tokens, ``complete``); after it, the answer ends ``partial``
        with the interruption notice. Never an exception for a dependency failure, never a hang.
        """
        deadline = Deadline(self._settings.request_deadline_s)
        vec_trace, llm_trace = CallTrace(), CallTrace()
        record.traces.update({self._vectordb.name: vec_trace, self._llm.name: llm_trace})
        vectordb_up, llm_up = await self.availability()

        if llm_up:
            hits, vectordb_up = await self._retrieve(question, vectordb_up, deadline, vec_trace)
            stream = await self._open_stream(question, hits, deadline, llm_trace)
            if stream is not None:
                mode = Mode.NORMAL if hits is not None else Mode.DEGRADED_NO_CONTEXT
                sources = [vars(s) for s in _sources(hits)] if hits is not None else []
                yield meta(record, mode, notice_for(mode, language), sources, False)
                relay = self._relay(stream, question, language, record, remember=hits is not None)
                async with aclosing(relay):  # a user who hangs up closes the relay (and the LLM stream) now
                    async for event in relay:
                        yield event
                return
        else:
            llm_trace.outcome = "unavailable"
        outcome = await self._degraded(question, language, deadline, record.traces, vectordb_up)
        yield meta(record, outcome.mode, outcome.notice, [], outcome.cached)
        for piece in split_for_stream(outcome.message):
            yield token(record, piece)
        yield done(record, "complete", None)

    async def _relay(
        self, stream: UpstreamStream, question: str, language: Language, record: StreamRecord, *, remember: bool
    ) -> AsyncGenerator[StreamEvent, None]:
        """Pass the LLM's tokens on as they arrive; a break after the first ends the answer partial."""
        pieces = [stream.first]
        try:
            yield token(record, stream.first)
            while True:
                try:
                    text = await stream.next_token()
                except DependencyError as exc:
                    record.interruption = exc.kind
                    yield self._interrupted(record, language, exc)
                    return
                if text is None:
                    break
                pieces.append(text)
                yield token(record, text)
        finally:
            stream.close()  # a user who hung up: the upstream request is dropped, the permit released
        if remember:
            self._remember(question, "".join(pieces))
        yield done(record, "complete", None)

    def _interrupted(self, record: StreamRecord, language: Language, error: DependencyError) -> StreamEvent:
        """The last event after the LLM stream broke mid-answer: ``partial``, with a notice saying so."""
        return done(record, "partial", INTERRUPTED_NOTICE[language])

    async def _open_stream(
        self, question: str, hits: list[dict[str, Any]] | None, deadline: Deadline, trace: CallTrace
    ) -> UpstreamStream | None:
        """The LLM's stream up to its first token, or None when it failed before that (then: degrade)."""
        body = {"model": "default", "messages": build_messages(question, hits), "stream": True}
        timing = StreamTiming(self._settings.llm_first_token_timeout_s, self._settings.llm_idle_timeout_s)
        try:
            return await self._llm.open_stream("/v1/chat/completions", body, deadline, trace, timing)
        except DependencyError:
            return None

    async def _retrieve(
        self, question: str, vectordb_up: bool, deadline: Deadline, trace: CallTrace
    ) -> tuple[list[dict[str, Any]] | None, bool]:
        """The passages for the question, or None (vector-db skipped or failed); and whether it answered."""
        if not vectordb_up:
            trace.outcome = "unavailable"
            return None, False
        hits = await self._search(question, deadline, trace)
        return hits, hits is not None

    async def _degraded(
        self, question: str, language: Language, deadline: Deadline, traces: dict[str, CallTrace], vectordb_up: bool
    ) -> ChatOutcome:
        """The answer without the LLM: a cached answer (or "busy"), else a FAQ answer (or maintenance)."""
        if vectordb_up:
            cache_trace = CallTrace()
            traces["cache"] = cache_trace
            hit = await self._cache_lookup(question, deadline, cache_trace)
            if hit is not None or cache_trace.outcome == "ok":
                mode = Mode.DEGRADED_CACHE_ONLY
                message = str(hit["answer"]) if hit is not None else BUSY_MESSAGE[language]
                return ChatOutcome(message, mode, notice_for(mode, language), [], hit is not None, traces)

        mode = Mode.STATIC_ONLY
        match = self._faq.match(question)
        message = match.entry.answer(language_of_text(question)) if match else MAINTENANCE_MESSAGE[language]
        return ChatOutcome(message, mode, notice_for(mode, language), [], False, traces)

    async def _search(self, question: str, deadline: Deadline, trace: CallTrace) -> list[dict[str, Any]] | None:
        stage = deadline.child(self._settings.retrieval_budget_s)
        try:
            answer = await self._vectordb.post_json(
                "/search", {"query": question, "top_k": self._settings.top_k}, stage, trace
            )
        except DependencyError:
            return None
        hits = answer.get("hits")
        if not isinstance(hits, list):
            trace.outcome = "BadResponse"
            return None
        return hits

    async def _complete(
        self, question: str, hits: list[dict[str, Any]] | None, deadline: Deadline, trace: CallTrace
    ) -> str | None:
        body = {"model": "default", "messages": build_messages(question, hits)}
        try:
            answer = await self._llm.post_json("/v1/chat/completions", body, deadline, trace)
            content = answer["choices"][0]["message"]["content"]
        except DependencyError:
            return None
        except (KeyError, IndexError, TypeError):
            trace.outcome = "BadResponse"
            return None
        return str(content) if content else None

    async def _cache_lookup(self, question: str, deadline: Deadline, trace: CallTrace) -> dict[str, Any] | None:
        stage = deadline.child(self._settings.retrieval_budget_s)
        try:
            answer = await self._vectordb.post_json("/cache/search", {"query": question}, stage, trace)
        except DependencyError:
            return None
        hit = answer.get("hit")
        return hit if isinstance(hit, dict) and "answer" in hit else None

    def _remember(self, question: str, text: str) -> None:
        """Store a normal answer for degraded-cache-only mode, without making the user wait."""
        if not self._settings.cache_answers:
            return
        task = asyncio.create_task(self._put(question, text))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _put(self, question: str, text: str) -> None:
        deadline = Deadline(self._vectordb.settings.attempt_timeout_s)
        try:
            await self._vectordb.post_json(
                "/cache/put", {"query": question, "answer": text}, deadline, CallTrace(), retry=False
            )
        except DependencyError as exc:
            _log.info("answer not cached", extra={"error": exc.kind})

    async def close(self) -> None:
        """Wait briefly for cache writes in flight, then cancel what is left."""
        if self._background:
            _, pending = await asyncio.wait(self._background, timeout=1.0)
            for task in pending:
                task.cancel()
