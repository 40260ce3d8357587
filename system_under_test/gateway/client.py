"""One dependency, called the careful way: breaker permit, cut-to-deadline timeout, retry, budget.

    post_json(path, body, deadline)
      loop:
        breaker.acquire()                        -> CircuitOpenError: give up at once
        timeout = min(attempt timeout, deadline)  -> DeadlineExceeded when nothing is left
        await the HTTP call (one long-lived aiohttp session per dependency)
        success -> breaker.record_success, return the JSON body
        failure -> breaker.record_failure (timeouts, 5xx, 529; a 429 only releases the permit); retry
                   only when the error is transient, attempts remain, the sleep (Retry-After when the
                   dependency sent one, else full jitter) fits in the deadline and the budget allows

    open_stream(path, body, deadline, timing)   the same loop, up to the stream's first token; the
                                                permit then rides with the stream until it ends

aiohttp rather than httpx for this hot path: on this two-core machine httpx's async pool answered a
two-call chain ten times slower under concurrency (facts.md); the harness itself still uses httpx.
Every third-party error is translated here into the gateway's own ``DependencyError`` tree.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from .breaker import Permit, RateBreaker
from .errors import (
    RETRYABLE_STATUSES,
    DeadlineExceeded,
    DependencyError,
    DependencyHttpError,
    DependencyTimeout,
    DependencyUnavailable,
    StreamFailed,
)
from .metrics import GatewayMetrics
from .retry import Backoff, Deadline, RetryBudget
from .retry_after import decide_retry, parse_retry_after
from .settings import DependencySettings
from .upstream_stream import StreamTiming, TokenStream, UpstreamStream

T = TypeVar("T")

# An attempt with less time than this cannot succeed; better to stop and degrade now.
_MIN_ATTEMPT_S = 0.01


def _exact(timeout: float) -> aiohttp.ClientTimeout:
    """A total timeout that fires on time: aiohttp rounds timeouts of 5 s or more up to the next whole
    second (its ``ceil_threshold``), which made the 30 s LLM timeout up to a second late."""
    return aiohttp.ClientTimeout(total=timeout, ceil_threshold=float("inf"))


@dataclass
class CallTrace:
    """What happened on one request's calls to one dependency, for the request's log line."""

    outcome: str = "skipped"
    attempts: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "attempts": self.attempts, "retries": self.retries, "errors": self.errors}


def _translate(dependency: str, exc: BaseException, timeout: float) -> DependencyError:
    """Map an aiohttp/asyncio/JSON error to the gateway's own error type."""
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return DependencyTimeout(dependency, f"no answer within {timeout:.3f}s")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return DependencyUnavailable(dependency, str(exc.os_error), kind="ConnectError")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return DependencyUnavailable(dependency, "server closed the connection", kind="ServerDisconnected")
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        return DependencyUnavailable(dependency, str(exc), kind="ConnectionReset")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return DependencyUnavailable(dependency, str(exc), kind="PayloadError")
    if isinstance(exc, aiohttp.ClientError | json.JSONDecodeError | UnicodeDecodeError | ValueError):
        return DependencyHttpError(dependency, 0, f"{type(exc).__name__}: {exc}")
    raise exc


class DependencyClient:
    """Calls one dependency over HTTP with every resilience rule the gateway applies."""

    def __init__(
        self,
        settings: DependencySettings,
        session: aiohttp.ClientSession,
        breaker: RateBreaker,
        budget: RetryBudget,
        backoff: Backoff,
        rng: random.Random,
        metrics: GatewayMetrics,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.breaker = breaker
        self._session = session
        self._budget = budget
        self._backoff = backoff
        self._rng = rng
        self._metrics = metrics

    async def post_json(
        self, path: str, body: dict[str, Any], deadline: Deadline, trace: CallTrace, *, retry: bool = True
    ) -> dict[str, Any]:
        """POST ``body`` to ``path`` and return the JSON answer, or raise a ``DependencyError``."""

        async def once(timeout: float) -> dict[str, Any]:
            return await self._post_once(path, body, timeout)

        answer, permit = await self._attempts(once, deadline, trace, retry=retry)
        self.breaker.record_success(permit)
        self._count(trace, "ok")
        return answer

    async def open_stream(
        self, path: str, body: dict[str, Any], deadline: Deadline, trace: CallTrace, timing: StreamTiming
    ) -> UpstreamStream:
        """POST a ``"stream": true`` request; return once its first token arrived (retrying before that).

        The breaker permit stays with the returned stream, which settles it when the stream ends: a
        stream that breaks after its first token is a failed call even though its status was 200.
        """

        async def once(timeout: float) -> UpstreamStream:
            return await self._open_stream_once(path, body, timeout, timing)

        stream, permit = await self._attempts(once, deadline, trace, retry=True)
        trace.outcome = "streaming"
        stream.bind(lambda error: self._settle_stream(permit, trace, error),
                    lambda: self._abandon_stream(permit, trace))
        return stream

    async def _attempts(
        self, once: Callable[[float], Awaitable[T]], deadline: Deadline, trace: CallTrace, *, retry: bool
    ) -> tuple[T, Permit]:
        """The retry loop shared by every call: returns the answer with its still unsettled permit."""
        if retry:
            self._budget.record_request()
        attempt = 0
        while True:
            try:
                permit = self.breaker.acquire()
            except DependencyError as exc:
                self._count(trace, exc.kind)
                raise
            timeout = min(self.settings.attempt_timeout_s, deadline.remaining())
            if timeout < _MIN_ATTEMPT_S:
                self.breaker.release(permit)
                expired = DeadlineExceeded(self.name, "request deadline spent")
                self._count(trace, expired.kind)
                raise expired
            trace.attempts += 1
            started = time.monotonic()
            try:
                answer = await once(timeout)
            except asyncio.CancelledError:
                self.breaker.release(permit)
                raise
            except DependencyError as exc:
                self._metrics.dependency_latency.labels(self.name).observe(time.monotonic() - started)
                self._settle_failure(permit, exc)
                self._count(trace, exc.kind)
                trace.errors.append(exc.kind)
                if not (retry and exc.retryable):
                    raise
                wait = self._retry_wait(exc, attempt, deadline)
                if wait is None:
                    raise
                trace.retries += 1
                await asyncio.sleep(wait)
                attempt += 1
                continue
            self._metrics.dependency_latency.labels(self.name).observe(time.monotonic() - started)
            return answer, permit

    def _settle_failure(self, permit: Permit, exc: DependencyError) -> None:
        if exc.counts_as_failure:
            self.breaker.record_failure(permit, exc.kind)
        else:
            self.breaker.release(permit)

    def _settle_stream(self, permit: Permit, trace: CallTrace, error: DependencyError | None) -> None:
        """How a stream's end reaches the breaker: [DONE] a success, a break a failure."""
        if error is None:
            self.breaker.record_success(permit)
            self._count(trace, "ok")
            return
        self._settle_failure(permit, error)
        self._count(trace, error.kind)
        trace.errors.append(error.kind)

    def _abandon_stream(self, permit: Permit, trace: CallTrace) -> None:
        self.breaker.release(permit)
        self._count(trace, "abandoned")

    def _retry_wait(self, exc: DependencyError, attempt: int, deadline: Deadline) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up now (the flaws override this)."""
        retry_after = exc.retry_after_s if isinstance(exc, DependencyHttpError) else None
        decision = decide_retry(
            retry_after_s=retry_after,
            attempt=attempt,
            max_attempts=self.settings.max_attempts,
            remaining_s=deadline.remaining(),
            min_attempt_s=_MIN_ATTEMPT_S,
            backoff=self._backoff,
            rng=self._rng,
            budget_allows=self._budget.try_acquire,
        )
        self._metrics.observe_retry_decision(self.name, decision)
        return decision.wait_s if decision.retry else None

    async def _post_once(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        url = self.settings.url + path
        try:
            async with self._session.post(url, json=body, timeout=_exact(timeout)) as resp:
                if resp.status >= 300:
                    raise await self._status_error(resp)
                raw = await resp.read()
                # 204 (cache/put) and other empty answers carry no body to parse.
                data = json.loads(raw) if raw.strip() else {}
        except DependencyError:
            raise
        except Exception as exc:  # translated at this boundary; nothing third-party escapes
            raise _translate(self.name, exc, timeout) from exc
        if not isinstance(data, dict):
            raise DependencyHttpError(self.name, 0, "answer is not a JSON object")
        return data

    async def _status_error(self, resp: aiohttp.ClientResponse) -> DependencyHttpError:
        text = (await resp.text(errors="replace"))[:200]
        retry_after = parse_retry_after(resp.headers, time.time()) if resp.status in RETRYABLE_STATUSES else None
        return DependencyHttpError(self.name, resp.status, text, retry_after_s=retry_after)

    async def _open_stream_once(
        self, path: str, body: dict[str, Any], timeout: float, timing: StreamTiming
    ) -> UpstreamStream:
        """One streamed attempt, up to its first token; the response stays open inside the stream."""
        started = time.monotonic()
        first_wait = min(timing.first_token_s, timeout)
        resp: aiohttp.ClientResponse | None = None
        try:
            # aiohttp's own timeouts stay off: TokenStream applies the stream's three clocks itself.
            async with asyncio.timeout(first_wait):
                resp = await self._session.post(self.settings.url + path, json=body,
                                                timeout=aiohttp.ClientTimeout(total=None))
                if resp.status >= 300:
                    raise await self._status_error(resp)
            media = resp.headers.get("Content-Type", "")
            if not media.startswith("text/event-stream"):
                raise DependencyHttpError(self.name, 0, f"a stream was asked for, got {media or 'no content type'}")
            tokens = TokenStream(resp.content.iter_any(), self.name, started_at=started,
                                 first_token_s=timing.first_token_s, idle_s=timing.idle_s, overall_s=timeout)
            first = await tokens.next_token()
            if first is None:  # [DONE] before any content: an empty answer is no answer
                raise DependencyHttpError(self.name, 0, "the stream ended without any content")
        except BaseException as exc:
            if resp is not None:
                resp.close()
            if isinstance(exc, DependencyError | asyncio.CancelledError):
                raise
            if isinstance(exc, TimeoutError):
                kind = "FirstTokenTimeout" if timing.first_token_s <= timeout else "Timeout"
                raise StreamFailed(self.name, kind, f"no answer within {first_wait:.3f}s") from None
            if isinstance(exc, Exception):
                raise _translate(self.name, exc, timeout) from exc
            raise
        return UpstreamStream(tokens, first, resp)

    async def probe(self, path: str, timeout: float) -> str | None:
        """GET a health path; None when it passes, else the error kind. Does not touch the breaker."""
        try:
            async with self._session.get(
                self.settings.url + path, timeout=_exact(timeout)
            ) as resp:
                await resp.read()
                return None if resp.status < 300 else f"HTTP{resp.status}"
        except Exception as exc:
            try:
                return _translate(self.name, exc, timeout).kind
            except Exception:
                return type(exc).__name__

    def _count(self, trace: CallTrace, outcome: str) -> None:
        trace.outcome = outcome
        self._metrics.dependency_calls.labels(self.name, outcome).inc()
