"""How each flawed variant of the gateway differs from the reference (the catalogue is variants.py).

Without ``GATEWAY_VARIANT`` none of this code runs. Four flaws are pure configuration (no deadline,
retries without jitter or budget, a breaker that never half-opens, no stream timeouts) and are applied
to the settings; most others swap one small component (breaker, dependency client, chat service) for a
flawed subclass; the rest change what the gateway reports (its mode, whether it has started) or when
it loads its index. The app asks this module at each of those points, so the reference modules stay
free of ``if flaw`` branches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from .breaker import Permit, RateBreaker
from .chat import ChatOutcome, ChatService
from .client import CallTrace, DependencyClient
from .errors import DependencyError, DependencyHttpError
from .modes import Language, Mode
from .retry import Backoff, Deadline
from .settings import DependencySettings, GatewaySettings
from .stream_events import StreamEvent, StreamRecord, done
from .upstream_stream import UpstreamStream
from .variants import Flaw

# Long enough to be "never" for any scenario, finite so arithmetic on it stays ordinary.
_NEVER_S = 10.0**6


def adjust_settings(settings: GatewaySettings) -> GatewaySettings:
    """Apply the flaws that are configuration mistakes; the others leave the settings alone."""
    flaw = settings.variant
    if flaw is Flaw.NO_DEADLINE:
        return replace(settings, request_deadline_s=_NEVER_S, retrieval_budget_s=_NEVER_S)
    if flaw is Flaw.RETRY_STORM:
        return replace(settings, backoff=Backoff(settings.backoff.base_s, settings.backoff.cap_s, jitter=False),
                       retry_budget_ratio=1.0, retry_budget_min_per_s=_NEVER_S)
    if flaw is Flaw.STUCK_OPEN:
        def stuck(dep: DependencySettings) -> DependencySettings:
            return replace(dep, breaker=replace(dep.breaker, reset_timeout_s=_NEVER_S))

        return replace(settings, vectordb=stuck(settings.vectordb), llm=stuck(settings.llm))
    if flaw is Flaw.NO_STREAM_IDLE_TIMEOUT:
        # What reading a stream with only the request's timeout amounts to (httpx's and aiohttp's read
        # timeouts are per chunk): the LLM attempt timeout cut to the deadline is all that is left.
        return replace(settings, llm_first_token_timeout_s=_NEVER_S, llm_idle_timeout_s=_NEVER_S)
    return settings


def breaker_class(flaw: Flaw | None) -> type[RateBreaker]:
    """The breaker each dependency gets: the reference one unless the flaw is in the breaker."""
    if flaw is Flaw.TEXTBOOK_BREAKER:
        return TextbookBreaker
    if flaw is Flaw.TIMEOUTS_EXCLUDED:
        return TimeoutBlindBreaker
    if flaw is Flaw.QUERY_TYPE_BREAKER:
        return FailureCountBreaker
    return RateBreaker


def client_class(flaw: Flaw | None) -> type[DependencyClient]:
    """The dependency client: the reference one unless the flaw is in how rate limits are retried."""
    if flaw is Flaw.IGNORES_RETRY_AFTER:
        return HammeringClient
    if flaw is Flaw.SLEEPS_RETRY_AFTER:
        return ObedientClient
    return DependencyClient


def chat_class(flaw: Flaw | None) -> type[ChatService]:
    """The chat service: the reference one unless the flaw is in how a question is answered."""
    classes: dict[Flaw | None, type[ChatService]] = {
        Flaw.WRONG_MODE: WrongModeChat, Flaw.NO_FALLBACK: NoFallbackChat, Flaw.CACHE_IGNORED: CacheIgnoredChat,
        Flaw.HEALTH_CHECK_PER_REQUEST: HealthCheckingChat,
        Flaw.STREAM_ERROR_AS_5XX: StreamErrorChat, Flaw.SILENT_TRUNCATION: SilentTruncationChat,
    }
    return classes.get(flaw, ChatService)


def reported_mode(flaw: Flaw | None, mode: Mode) -> Mode:
    """The mode the gateway *says* it is in (``/status``); only the wrong-mode flaw lies."""
    if flaw is Flaw.WRONG_MODE and mode is Mode.DEGRADED_NO_CONTEXT:
        return Mode.NORMAL
    return mode


def reported_started(flaw: Flaw | None, started: bool) -> bool:
    """Whether the gateway *says* it has started (``/health/started``, ``/health/ready``); only the
    early-ready flaw claims it before the index is loaded and the dependencies are probed once."""
    return flaw is Flaw.EARLY_READY or started


async def load_index(flaw: Flaw | None, load: Callable[[], Coroutine[Any, Any, None]]) -> list[asyncio.Task[None]]:
    """Load the answer index during start-up, so the gateway serves only once it is loaded (uvicorn
    accepts connections only once the lifespan has started); the early-ready flaw loads it in the
    background instead. The tasks left running, for the lifespan to cancel at shutdown."""
    if flaw is Flaw.EARLY_READY:
        return [asyncio.create_task(load(), name="index-load")]
    await load()
    return []


class TextbookBreaker(RateBreaker):
    """What ``@breaker`` on an ``async def`` amounts to: the guarded call is the coroutine's creation.

    pybreaker calls the decorated function, gets a coroutine object back without an exception, and
    records a success; the failure happens later, at ``await``, outside the breaker. So every outcome
    reaches the breaker as a success (tests/unit/system_under_test/gateway/test_flaws.py shows pybreaker
    doing exactly that).
    """

    def record_failure(self, permit: Permit, error: str) -> None:
        self.record_success(permit)


class TimeoutBlindBreaker(RateBreaker):
    """Timeouts excluded from the breaker; like pybreaker's ``exclude``, an excluded error is a success."""

    def record_failure(self, permit: Permit, error: str) -> None:
        if error == "Timeout":
            self.record_success(permit)
        else:
            super().record_failure(permit, error)


class FailureCountBreaker(RateBreaker):
    """Opens on a failure *count* in the window (5 in 10 s), never asking how many calls succeeded.

    A common shortcut ("open after N errors"): when one query type always fails (a prompt the provider
    rejects, a context too long), its questions alone reach the count within seconds at any traffic
    above a few requests a second, while the dependency answers everyone else.
    """

    MAX_FAILURES = 5

    def _open_reason(self) -> str | None:
        _, failures = self._window.totals()
        if failures >= self.MAX_FAILURES:
            return f"{failures} failures in {self.config.window_s:g}s"
        return super()._open_reason()


_HAMMER_ATTEMPTS = 5


class HammeringClient(DependencyClient):
    """Retries a 429 at once, up to 5 attempts, without asking the retry budget or reading Retry-After."""

    def _retry_wait(self, exc: DependencyError, attempt: int, deadline: Deadline) -> float | None:
        if isinstance(exc, DependencyHttpError) and exc.status == 429:
            return 0.0 if attempt + 1 < _HAMMER_ATTEMPTS else None
        return super()._retry_wait(exc, attempt, deadline)


class ObedientClient(DependencyClient):
    """Sleeps whatever Retry-After says before retrying, deadline or not (retry budget unasked)."""

    def _retry_wait(self, exc: DependencyError, attempt: int, deadline: Deadline) -> float | None:
        if isinstance(exc, DependencyHttpError) and exc.retry_after_s is not None:
            return exc.retry_after_s if attempt + 1 < self.settings.max_attempts else None
        return super()._retry_wait(exc, attempt, deadline)


class StreamErrorChat(ChatService):
    """A broken LLM stream is an error: a 500 before the first token, an aborted connection after it."""

    async def _open_stream(
        self, question: str, hits: list[dict[str, Any]] | None, deadline: Deadline, trace: CallTrace
    ) -> UpstreamStream | None:
        stream = await super()._open_stream(question, hits, deadline, trace)
        if stream is None and trace.errors:  # it was tried and broke (an open breaker still degrades)
            raise DependencyFailed(f"llm stream failed: {trace.outcome}")
        return stream

    def _interrupted(self, record: StreamRecord, language: Language, error: DependencyError) -> StreamEvent:
        raise DependencyFailed(f"llm stream broke: {error.kind}")


class SilentTruncationChat(ChatService):
    """A stream broken mid-answer ends like a whole one: ``complete``, no notice."""

    def _interrupted(self, record: StreamRecord, language: Language, error: DependencyError) -> StreamEvent:
        return done(record, "complete", None)


class WrongModeChat(ChatService):
    """Answers without context are labelled ``normal`` and carry no notice."""

    async def answer(self, question: str, language: Language) -> ChatOutcome:
        outcome = await super().answer(question, language)
        if outcome.mode is Mode.DEGRADED_NO_CONTEXT:
            outcome.mode, outcome.notice = Mode.NORMAL, None
        return outcome


class DependencyFailed(Exception):
    """Raised by the no-fallback variant; the app's last-resort handler turns it into a 500."""


class NoFallbackChat(ChatService):
    """Anything short of a normal answer is an error: no degraded modes at all."""

    async def answer(self, question: str, language: Language) -> ChatOutcome:
        outcome = await super().answer(question, language)
        if outcome.mode is not Mode.NORMAL:
            failed = [name for name, trace in outcome.traces.items() if trace.outcome != "ok"]
            raise DependencyFailed(f"dependency failed: {', '.join(failed) or 'unknown'}")
        return outcome


class CacheIgnoredChat(ChatService):
    """Without the LLM every question gets the busy message: the cache lookup is skipped."""

    async def _cache_lookup(self, question: str, deadline: Deadline, trace: CallTrace) -> dict[str, Any] | None:
        trace.outcome = "ok"
        return None


class HealthCheckingChat(ChatService):
    """Asks each dependency's ``/health/ready`` before every request instead of trusting the probes."""

    async def availability(self) -> tuple[bool, bool]:
        up = []
        for client in (self._vectordb, self._llm):
            error = await client.probe("/health/ready", client.settings.attempt_timeout_s)
            up.append(error is None and client.breaker.allows_calls)
        return up[0], up[1]


__all__ = [
    "adjust_settings", "breaker_class", "chat_class", "client_class", "load_index", "reported_mode", "reported_started",
]
