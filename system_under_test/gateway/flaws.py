"""How each flawed variant of the gateway differs from the reference (the catalogue is variants.py).

Without ``GATEWAY_VARIANT`` none of this code runs. Three flaws are pure configuration (no deadline, retries without jitter or budget, a breaker that never
half-opens) and are applied to the settings; the others swap one small component for a flawed
subclass, so the reference modules stay free of ``if flaw`` branches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .breaker import Permit, RateBreaker
from .chat import ChatOutcome, ChatService
from .client import CallTrace
from .modes import Language, Mode
from .retry import Backoff, Deadline
from .settings import DependencySettings, GatewaySettings
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
    return settings


def breaker_class(flaw: Flaw | None) -> type[RateBreaker]:
    """The breaker each dependency gets: the reference one unless the flaw is in the breaker."""
    if flaw is Flaw.TEXTBOOK_BREAKER:
        return TextbookBreaker
    if flaw is Flaw.TIMEOUTS_EXCLUDED:
        return TimeoutBlindBreaker
    return RateBreaker


def chat_class(flaw: Flaw | None) -> type[ChatService]:
    """The chat service: the reference one unless the flaw is in how a question is answered."""
    classes: dict[Flaw | None, type[ChatService]] = {
        Flaw.WRONG_MODE: WrongModeChat, Flaw.NO_FALLBACK: NoFallbackChat, Flaw.CACHE_IGNORED: CacheIgnoredChat,
        Flaw.HEALTH_CHECK_PER_REQUEST: HealthCheckingChat,
    }
    return classes.get(flaw, ChatService)


def reported_mode(flaw: Flaw | None, mode: Mode) -> Mode:
    """The mode the gateway *says* it is in (``/status``); only the wrong-mode flaw lies."""
    if flaw is Flaw.WRONG_MODE and mode is Mode.DEGRADED_NO_CONTEXT:
        return Mode.NORMAL
    return mode


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


__all__ = ["adjust_settings", "breaker_class", "chat_class", "reported_mode"]
