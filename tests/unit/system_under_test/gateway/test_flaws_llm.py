"""The flawed variants for LLM rate limits and streams: each really has its mistake, the reference does not."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from system_under_test.gateway import flaws
from system_under_test.gateway.breaker import BreakerConfig, BreakerState, RateBreaker
from system_under_test.gateway.client import CallTrace, DependencyClient
from system_under_test.gateway.errors import DeadlineExceeded, DependencyHttpError
from system_under_test.gateway.metrics import GatewayMetrics
from system_under_test.gateway.retry import Backoff, Deadline, RetryBudget
from system_under_test.gateway.settings import DependencySettings, GatewaySettings
from system_under_test.gateway.stream_events import StreamEvent, StreamRecord
from system_under_test.gateway.variants import Flaw

from tests.unit.system_under_test.gateway.test_chat_stream import DONE, QUESTION, StreamingLlm, content, service, text
from tests.unit.system_under_test.gateway.test_client import ok, serve, status_answer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def llm_client(flaw: Flaw | None, session: aiohttp.ClientSession, url: str) -> DependencyClient:
    """An LLM client as the app builds it for ``flaw``: 2 attempts, and a retry budget with nothing left."""
    settings = DependencySettings("llm", url, 2.0, 2, BreakerConfig())
    return flaws.client_class(flaw)(settings, session, RateBreaker("llm"), RetryBudget(ratio=0.0, min_per_s=0.0),
                                    Backoff(0.001, 0.002), random.Random(1), GatewayMetrics())


async def test_ignores_retry_after_hammers_a_rate_limited_provider(session: aiohttp.ClientSession) -> None:
    """Always 429 with Retry-After: 1 and no retry budget: the reference calls once, the variant five times."""
    calls: dict[Flaw | None, int] = {}
    for flaw in (None, Flaw.IGNORES_RETRY_AFTER):
        server, test_server = await serve([status_answer(429, {"Retry-After": "1"})])
        try:
            with pytest.raises(DependencyHttpError):
                await llm_client(flaw, session, str(test_server.make_url(""))).post_json(
                    "/v1", {}, Deadline(10), CallTrace())
        finally:
            await test_server.close()
        calls[flaw] = server.calls
    assert calls == {None: 1, Flaw.IGNORES_RETRY_AFTER: 5}


async def test_ignores_retry_after_leaves_other_errors_to_the_reference_rule(session: aiohttp.ClientSession) -> None:
    """A 503 without budget is not retried by the variant either: only 429s are hammered."""
    server, test_server = await serve([status_answer(503), ok])
    try:
        with pytest.raises(DependencyHttpError):
            await llm_client(Flaw.IGNORES_RETRY_AFTER, session, str(test_server.make_url(""))).post_json(
                "/v1", {}, Deadline(10), CallTrace())
    finally:
        await test_server.close()
    assert server.calls == 1


async def test_sleeps_retry_after_sleeps_past_the_deadline(session: aiohttp.ClientSession) -> None:
    """Retry-After 0.3 s with 0.2 s left: the reference degrades at once; the variant sleeps past the deadline."""
    outcomes: dict[Flaw | None, tuple[type[Exception], bool]] = {}
    for flaw in (None, Flaw.SLEEPS_RETRY_AFTER):
        _, test_server = await serve([status_answer(429, {"Retry-After": "0.3"}), ok])
        deadline = Deadline(0.2)
        try:
            with pytest.raises((DependencyHttpError, DeadlineExceeded)) as info:
                await llm_client(flaw, session, str(test_server.make_url(""))).post_json(
                    "/v1", {}, deadline, CallTrace())
        finally:
            await test_server.close()
        outcomes[flaw] = (type(info.value), deadline.expired)
    assert outcomes == {None: (DependencyHttpError, False), Flaw.SLEEPS_RETRY_AFTER: (DeadlineExceeded, True)}


def test_no_stream_idle_timeout_leaves_only_the_attempt_timeout() -> None:
    """The variant's stream timeouts are "never"; the reference's are 5 s to the first token, 2 s idle."""
    reference = flaws.adjust_settings(GatewaySettings())
    flawed = flaws.adjust_settings(GatewaySettings(variant=Flaw.NO_STREAM_IDLE_TIMEOUT))
    assert (reference.llm_first_token_timeout_s, reference.llm_idle_timeout_s) == (5.0, 2.0)
    assert flawed.llm_first_token_timeout_s > 1000 and flawed.llm_idle_timeout_s > 1000
    assert flawed.llm.attempt_timeout_s == reference.llm.attempt_timeout_s == 30.0


def events_of(flaw: Flaw | None, chunks: list[bytes] | None) -> tuple[list[str], Exception | None]:
    """The event names the chat service produced before it ended, and what it raised (if anything)."""
    chat, _ = service(StreamingLlm(chunks), flaw=flaw, cache=False)
    names: list[str] = []

    async def main() -> None:
        async for event in chat.stream_answer(QUESTION, "en", StreamRecord("r")):
            names.append(event.name)

    try:
        asyncio.run(main())
    except flaws.DependencyFailed as exc:
        return names, exc
    return names, None


def test_stream_error_as_5xx_raises_before_meta_when_the_stream_fails_early() -> None:
    """No first token: the reference streams a degraded answer; the variant raises before meta (a 500)."""
    names, error = events_of(None, None)
    assert error is None and names[0] == "meta" and names[-1] == "done"
    names, error = events_of(Flaw.STREAM_ERROR_AS_5XX, None)
    assert error is not None and names == []


def test_stream_error_as_5xx_aborts_mid_stream() -> None:
    """A cut after a token: the reference ends with done; the variant raises after the token (aborted)."""
    cut = [content("a"), content("b")]
    assert events_of(None, cut) == (["meta", "token", "token", "done"], None)
    names, error = events_of(Flaw.STREAM_ERROR_AS_5XX, cut)
    assert error is not None and names == ["meta", "token", "token"]


def test_stream_error_as_5xx_streams_normally_when_nothing_breaks() -> None:
    """The variant's mistake shows only on failure: a healthy stream ends complete."""
    assert events_of(Flaw.STREAM_ERROR_AS_5XX, [content("a"), DONE]) == (["meta", "token", "done"], None)


def test_silent_truncation_ends_a_broken_stream_as_complete() -> None:
    """A cut mid-answer: the reference says partial with a notice, the variant complete with none."""
    for flaw, outcome, has_notice in ((None, "partial", True), (Flaw.SILENT_TRUNCATION, "complete", False)):
        chat, _ = service(StreamingLlm([content("Refunds "), content("at ")]), flaw=flaw, cache=False)

        async def main() -> list[StreamEvent]:
            return [e async for e in chat.stream_answer(QUESTION, "en", StreamRecord("r"))]

        events = asyncio.run(main())
        done = events[-1].data
        assert text(events) == "Refunds at "
        assert done["outcome"] == outcome and bool(done["notice"]) is has_notice, flaw


def test_query_type_breaker_opens_on_a_failure_count_at_a_low_rate() -> None:
    """Fifty calls, one in ten failing, never two in a row: the reference stays closed, the variant opens."""
    for flaw, state in ((None, BreakerState.CLOSED), (Flaw.QUERY_TYPE_BREAKER, BreakerState.OPEN)):
        breaker = flaws.breaker_class(flaw)("llm", BreakerConfig())
        for outcome in "ooooooooox" * 5:
            permit = breaker.acquire()
            if outcome == "o":
                breaker.record_success(permit)
            else:
                breaker.record_failure(permit, "HTTP500")
        assert breaker.state is state, flaw


def test_new_variants_parse_and_are_described() -> None:
    """Each new variant name parses from GATEWAY_VARIANT and has a description."""
    from system_under_test.gateway.variants import DESCRIPTIONS

    names = ["ignores-retry-after", "sleeps-retry-after", "no-stream-idle-timeout", "stream-error-as-5xx",
             "silent-truncation", "query-type-breaker"]
    for name in names:
        flaw = GatewaySettings.from_env({"GATEWAY_VARIANT": name}).variant
        assert flaw is not None and flaw.value == name and DESCRIPTIONS[flaw]
