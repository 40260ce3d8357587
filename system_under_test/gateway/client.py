"""One dependency, called the careful way: breaker permit, cut-to-deadline timeout, retry, budget.

    post_json(path, body, deadline)
      loop:
        breaker.acquire()                        -> CircuitOpenError: give up at once
        timeout = min(attempt timeout, deadline)  -> DeadlineExceeded when nothing is left
        await the HTTP call (one long-lived aiohttp session per dependency)
        success -> breaker.record_success, return the JSON body
        failure -> breaker.record_failure (timeouts too); retry only when the error is transient,
                   attempts remain, the full-jitter sleep fits in the deadline and the budget allows

aiohttp rather than httpx for this hot path: on this two-core machine httpx's async pool answered a
two-call chain ten times slower under concurrency (facts.md); the harness itself still uses httpx.
Every third-party error is translated here into the gateway's own ``DependencyError`` tree.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .breaker import RateBreaker
from .errors import DeadlineExceeded, DependencyError, DependencyHttpError, DependencyTimeout, DependencyUnavailable
from .metrics import GatewayMetrics
from .retry import Backoff, Deadline, RetryBudget
from .settings import DependencySettings

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
                answer = await self._post_once(path, body, timeout)
            except asyncio.CancelledError:
                self.breaker.release(permit)
                raise
            except DependencyError as exc:
                self._metrics.dependency_latency.labels(self.name).observe(time.monotonic() - started)
                if exc.counts_as_failure:
                    self.breaker.record_failure(permit, exc.kind)
                else:
                    self.breaker.release(permit)
                self._count(trace, exc.kind)
                trace.errors.append(exc.kind)
                if not (retry and exc.retryable and self._may_retry(attempt, deadline)):
                    raise
                trace.retries += 1
                await asyncio.sleep(self._backoff.delay(attempt, self._rng))
                attempt += 1
                continue
            self._metrics.dependency_latency.labels(self.name).observe(time.monotonic() - started)
            self.breaker.record_success(permit)
            self._count(trace, "ok")
            return answer

    def _may_retry(self, attempt: int, deadline: Deadline) -> bool:
        """A retry is allowed when attempts remain, the worst-case sleep fits, and the budget agrees."""
        if attempt + 1 >= self.settings.max_attempts:
            self._metrics.retries_denied.labels(self.name, "attempts").inc()
            return False
        if deadline.remaining() < self._backoff.ceiling(attempt) + _MIN_ATTEMPT_S:
            self._metrics.retries_denied.labels(self.name, "deadline").inc()
            return False
        if not self._budget.try_acquire():
            self._metrics.retries_denied.labels(self.name, "budget").inc()
            return False
        self._metrics.retries.labels(self.name).inc()
        return True

    async def _post_once(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        url = self.settings.url + path
        try:
            async with self._session.post(url, json=body, timeout=_exact(timeout)) as resp:
                if resp.status >= 300:
                    text = (await resp.text())[:200]
                    raise DependencyHttpError(self.name, resp.status, text)
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
