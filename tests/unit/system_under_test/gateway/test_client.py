"""The dependency client against small real HTTP servers: retries, timeouts, deadline, budget, breaker."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from system_under_test.gateway.breaker import BreakerConfig, BreakerState, RateBreaker
from system_under_test.gateway.client import CallTrace, DependencyClient
from system_under_test.gateway.errors import (
    CircuitOpenError,
    DependencyHttpError,
    DependencyTimeout,
    DependencyUnavailable,
)
from system_under_test.gateway.metrics import GatewayMetrics
from system_under_test.gateway.retry import Backoff, Deadline, RetryBudget
from system_under_test.gateway.settings import DependencySettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A tiny HTTP server on 127.0.0.1 whose answers the test scripts, counting requests."""

    def __init__(self, answers: list[Handler]) -> None:
        self.answers = answers
        self.calls = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return await answer(request)


async def ok(_: web.Request) -> web.StreamResponse:
    return web.json_response({"hits": []})


async def unavailable(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": "busy"}, status=503)


async def bad_request(_: web.Request) -> web.StreamResponse:
    return web.json_response({"detail": "query"}, status=422)


async def hang(_: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response({})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def serve(answers: list[Handler]) -> tuple[Server, TestServer]:
    server = Server(answers)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    return server, test_server


def client(
    session: aiohttp.ClientSession,
    url: str,
    *,
    attempts: int = 3,
    timeout: float = 2.0,
    budget: RetryBudget | None = None,
    breaker: BreakerConfig | None = None,
) -> DependencyClient:
    settings = DependencySettings("vector-db", url, timeout, attempts, breaker or BreakerConfig())
    return DependencyClient(
        settings,
        session,
        RateBreaker("vector-db", settings.breaker),
        budget or RetryBudget(ratio=0.1, min_per_s=10.0),
        Backoff(base_s=0.001, cap_s=0.002),
        random.Random(1),
        GatewayMetrics(),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_client_retries_a_503_and_returns_the_answer(session: aiohttp.ClientSession) -> None:
    """A transient 503 is retried; the second answer is returned and the trace shows one retry."""
    server, test_server = await serve([unavailable, ok])
    try:
        trace = CallTrace()
        answer = await client(session, str(test_server.make_url(""))).post_json("/search", {}, Deadline(5), trace)
    finally:
        await test_server.close()
    assert answer == {"hits": []}
    assert (server.calls, trace.attempts, trace.retries, trace.outcome) == (2, 2, 1, "ok")


async def test_client_gives_up_on_refused_connections_after_max_attempts(session: aiohttp.ClientSession) -> None:
    """Connection refused is retried up to max_attempts, then raised as ConnectError."""
    dep = client(session, f"http://127.0.0.1:{free_port()}", attempts=3)
    trace = CallTrace()
    with pytest.raises(DependencyUnavailable) as info:
        await dep.post_json("/search", {}, Deadline(5), trace)
    assert info.value.kind == "ConnectError"
    assert trace.attempts == 3 and trace.errors == ["ConnectError"] * 3
    assert dep.breaker.failure_rate() == 1.0


async def test_client_does_not_retry_a_timeout_and_counts_it_as_failure(session: aiohttp.ClientSession) -> None:
    """A hung dependency times out once; the breaker counts the timeout as a failure."""
    server, test_server = await serve([hang])
    dep = client(session, str(test_server.make_url("")), timeout=0.2, breaker=BreakerConfig(consecutive_failures=1))
    try:
        with pytest.raises(DependencyTimeout):
            await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert server.calls == 1
    assert dep.breaker.state is BreakerState.OPEN


async def test_client_cuts_the_attempt_timeout_to_the_deadline(session: aiohttp.ClientSession) -> None:
    """With 0.2 s left of the request, a 30 s attempt timeout does not make the caller wait 30 s."""
    _, test_server = await serve([hang])
    dep = client(session, str(test_server.make_url("")), timeout=30.0)
    started = time.monotonic()
    try:
        with pytest.raises(DependencyTimeout):
            await dep.post_json("/search", {}, Deadline(0.2), CallTrace())
    finally:
        await test_server.close()
    assert time.monotonic() - started < 10.0


async def test_client_stops_retrying_when_the_budget_is_spent(session: aiohttp.ClientSession) -> None:
    """With an empty retry budget, a 503 is not retried."""
    server, test_server = await serve([unavailable, ok])
    dep = client(session, str(test_server.make_url("")), budget=RetryBudget(ratio=0.0, min_per_s=0.0))
    try:
        with pytest.raises(DependencyHttpError) as info:
            await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert info.value.status == 503
    assert server.calls == 1


async def test_client_treats_a_4xx_as_our_bug_not_the_dependency_failing(session: aiohttp.ClientSession) -> None:
    """A 422 is raised without retry and leaves the breaker's failure rate at zero."""
    server, test_server = await serve([bad_request])
    dep = client(session, str(test_server.make_url("")))
    try:
        with pytest.raises(DependencyHttpError):
            await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert server.calls == 1
    assert dep.breaker.failure_rate() == 0.0


async def test_client_with_open_breaker_sends_nothing(session: aiohttp.ClientSession) -> None:
    """Once the breaker is open, calls fail fast with CircuitOpenError and the server sees no request."""
    server, test_server = await serve([unavailable])
    dep = client(session, str(test_server.make_url("")), attempts=1, breaker=BreakerConfig(consecutive_failures=1))
    try:
        with pytest.raises(DependencyHttpError):
            await dep.post_json("/search", {}, Deadline(5), CallTrace())
        trace = CallTrace()
        with pytest.raises(CircuitOpenError):
            await dep.post_json("/search", {}, Deadline(5), trace)
    finally:
        await test_server.close()
    assert server.calls == 1
    assert trace.outcome == "CircuitOpen" and trace.attempts == 0


def test_attempt_timeouts_are_not_rounded_up_to_whole_seconds() -> None:
    """aiohttp ceils timeouts over 5 s by default (30 s at t=100.2 fires at 131); ours fire on time."""
    from aiohttp.helpers import calculate_timeout_when

    from system_under_test.gateway.client import _exact

    assert calculate_timeout_when(100.2, 30.0, aiohttp.ClientTimeout(total=30.0).ceil_threshold) == 131.0
    assert calculate_timeout_when(100.2, 30.0, _exact(30.0).ceil_threshold) == pytest.approx(130.2)


# -- rate limits and overload: Retry-After and how the breaker counts them ---------------------------


def status_answer(status: int, headers: dict[str, str] | None = None) -> Handler:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"type": "scripted"}}, status=status, headers=headers or {})

    return answer


def sample(dep: DependencyClient, name: str, **labels: str) -> float | None:
    return dep._metrics.registry.get_sample_value(name, labels)


class Stamped(Server):
    """A Server that also notes when each request arrived."""

    def __init__(self, answers: list[Handler]) -> None:
        super().__init__(answers)
        self.at: list[float] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.at.append(time.monotonic())
        return await super().handle(request)


async def serve_stamped(answers: list[Handler]) -> tuple[Stamped, TestServer]:
    server = Stamped(answers)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    return server, test_server


async def test_client_honours_a_retry_after_that_fits(session: aiohttp.ClientSession) -> None:
    """429 with Retry-After: 0.3 is retried no sooner than 0.3 s later, and the metric says honoured."""
    server, test_server = await serve_stamped([status_answer(429, {"Retry-After": "0.3"}), ok])
    dep = client(session, str(test_server.make_url("")))
    try:
        answer = await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert answer == {"hits": []}
    assert server.at[1] - server.at[0] >= 0.3 - 0.01
    assert sample(dep, "chatbot_retry_after_honoured_total", dependency="vector-db") == 1


async def test_client_refuses_a_retry_after_past_the_deadline_at_once(session: aiohttp.ClientSession) -> None:
    """Retry-After: 30 with a 2 s deadline: raised without sleeping or retrying; refused for 'deadline'."""
    server, test_server = await serve([status_answer(429, {"Retry-After": "30"}), ok])
    dep = client(session, str(test_server.make_url("")))
    try:
        with pytest.raises(DependencyHttpError) as info:
            await dep.post_json("/search", {}, Deadline(2), CallTrace())
    finally:
        await test_server.close()
    assert info.value.status == 429 and info.value.retry_after_s == 30.0
    assert server.calls == 1
    assert sample(dep, "chatbot_retry_after_refused_total", dependency="vector-db", reason="deadline") == 1


@pytest.mark.parametrize(("status", "retried"), [(400, False), (401, False), (404, False), (408, True),
                                                 (429, True), (500, False), (503, True), (529, True)])
async def test_client_retries_only_transient_statuses(session: aiohttp.ClientSession, status: int, retried: bool) -> None:
    """408, 429, 503 and 529 are retried; other 4xx never (even with Retry-After), nor a plain 500."""
    server, test_server = await serve([status_answer(status, {"Retry-After": "0"}), ok])
    dep = client(session, str(test_server.make_url("")))
    try:
        if retried:
            assert await dep.post_json("/search", {}, Deadline(5), CallTrace()) == {"hits": []}
        else:
            with pytest.raises(DependencyHttpError):
                await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert server.calls == (2 if retried else 1)


@pytest.mark.parametrize(("status", "failure_rate"), [(429, 0.0), (503, 1.0), (529, 1.0), (408, 1.0), (400, 0.0)])
async def test_client_breaker_counting_of_rate_limits_and_overload(
    session: aiohttp.ClientSession, status: int, failure_rate: float
) -> None:
    """429 is neither failure nor success (nothing in the window); 503/529/408 are failures; 400 neither."""
    server, test_server = await serve([status_answer(status)])
    dep = client(session, str(test_server.make_url("")), attempts=1)
    try:
        for _ in range(3):
            with pytest.raises(DependencyHttpError):
                await dep.post_json("/search", {}, Deadline(5), CallTrace())
    finally:
        await test_server.close()
    assert server.calls == 3
    assert dep.breaker.failure_rate() == failure_rate


async def test_client_sustained_overload_opens_the_breaker_but_rate_limits_do_not(
    session: aiohttp.ClientSession,
) -> None:
    """Ten 529s open the breaker (degrade fast); ten 429s leave it closed (slow down, not broken)."""
    for status, state in ((529, BreakerState.OPEN), (429, BreakerState.CLOSED)):
        _, test_server = await serve([status_answer(status)])
        dep = client(session, str(test_server.make_url("")), attempts=1, breaker=BreakerConfig(min_calls=10))
        try:
            for _ in range(10):
                with pytest.raises(DependencyHttpError):
                    await dep.post_json("/search", {}, Deadline(5), CallTrace())
        finally:
            await test_server.close()
        assert dep.breaker.state is state, status
