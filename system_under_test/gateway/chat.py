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
from dataclasses import dataclass, field
from typing import Any

from .client import CallTrace, DependencyClient
from .errors import DependencyError
from .faq import Faq
from .modes import BUSY_MESSAGE, MAINTENANCE_MESSAGE, Language, Mode, language_of_text, notice_for
from .monitor import HealthMonitor
from .retry import Deadline
from .settings import GatewaySettings

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
            hits: list[dict[str, Any]] | None = None
            if vectordb_up:
                hits = await self._search(question, deadline, vec_trace)
                vectordb_up = hits is not None
            else:
                vec_trace.outcome = "unavailable"
            text = await self._complete(question, hits, deadline, llm_trace)
            if text is not None:
                if hits is not None:
                    self._remember(question, text)
                    sources = [Source(str(h["id"]), str(h["title"]), float(h["score"])) for h in hits]
                    return ChatOutcome(text, Mode.NORMAL, None, sources, False, traces)
                mode = Mode.DEGRADED_NO_CONTEXT
                return ChatOutcome(text, mode, notice_for(mode, language), [], False, traces)
        else:
            llm_trace.outcome = "unavailable"

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
