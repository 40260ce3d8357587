"""Forwarding to a real OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI) when one is configured.

Errors are translated at this boundary: whatever aiohttp raises or the upstream answers, callers see
one ``UpstreamError`` whose ``code`` says what went wrong, and which the app turns into a 502.

Readiness follows the last call instead of probing upstream on every ``/health/ready`` (a probe per
poll would add load to the model and say little the real calls do not). A failure, though, would
then stick while no traffic arrives, and a readiness-gated router would never send any: so a probe
that finds the last call failed, and older than ``recheck_s``, starts one background ``GET /models``
whose result updates the state. The probe itself never waits on upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp

from system_under_test.common.health import HealthReport, HealthStatus

logger = logging.getLogger(__name__)

_ERROR_TEXT_CHARS = 300


class UpstreamErrorCode(StrEnum):
    UNAVAILABLE = "upstream_unavailable"
    TIMEOUT = "upstream_timeout"
    STATUS = "upstream_error_status"
    MALFORMED = "upstream_bad_response"


class UpstreamError(Exception):
    """The upstream call failed; ``code`` classifies how, the message says what happened."""

    def __init__(self, code: UpstreamErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    detail: str
    at: float


class UpstreamClient:
    """One long-lived aiohttp session to an OpenAI-compatible base URL (``.../v1``)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        recheck_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._recheck_s = recheck_s
        self._clock = clock
        self._last: _Outcome | None = None
        self._recheck: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, base_url: str, *, api_key: str | None, timeout_s: float, recheck_s: float) -> UpstreamClient:
        """A client with its own session; call inside the running event loop (the app's lifespan)."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s), headers=headers)
        return cls(session, base_url, recheck_s=recheck_s)

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The upstream's chat completion for ``payload``, checked to be completion-shaped."""
        with self._translate():
            async with self._session.post(f"{self._base_url}/chat/completions", json=payload) as response:
                await _raise_for_status(response)
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    raise UpstreamError(UpstreamErrorCode.MALFORMED, "upstream answered with non-JSON") from None
            if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
                raise UpstreamError(UpstreamErrorCode.MALFORMED, "upstream answer has no 'choices' list")
        self._record(ok=True, detail="ok")
        return data

    async def open_stream(self, payload: dict[str, Any]) -> AsyncIterator[bytes]:
        """The upstream's SSE bytes for a ``"stream": true`` payload, relayed as they arrive.

        The status is checked before returning, so a failing upstream still becomes a clean 502; an
        error after the first byte can only end the stream early.
        """
        with self._translate():
            response = await self._session.post(f"{self._base_url}/chat/completions", json=payload)
            try:
                await _raise_for_status(response)
            except BaseException:
                response.release()
                raise
        return self._relay(response)

    def readiness(self) -> HealthReport:
        """Pass when the last call succeeded or none was made yet; never calls upstream itself."""
        last = self._last
        if last is None:
            return HealthReport(HealthStatus.PASS, {"upstream": "pass", "upstream_last_call": "none yet"})
        if last.ok:
            return HealthReport(HealthStatus.PASS, {"upstream": "pass", "upstream_last_call": "ok"})
        self._maybe_recheck(last)
        return HealthReport(HealthStatus.FAIL, {"upstream": "fail", "upstream_last_call": last.detail})

    async def settle(self) -> None:
        """Wait for a background recheck in flight, if any (lets tests observe its result)."""
        if self._recheck is not None:
            await asyncio.shield(self._recheck)

    async def aclose(self) -> None:
        """Stop any recheck and close the session."""
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck
        await self._session.close()

    async def _relay(self, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for data in response.content.iter_any():
                yield data
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._record(ok=False, detail=f"stream broke: {_describe(exc)}")
            logger.warning("upstream stream broke", extra={"error": _describe(exc)})
        else:
            self._record(ok=True, detail="ok")
        finally:
            response.release()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        # The one place third-party errors become ours, and every failure is recorded for readiness.
        try:
            yield
        except UpstreamError as exc:
            self._record(ok=False, detail=str(exc))
            raise
        except TimeoutError:
            self._record(ok=False, detail="timeout")
            raise UpstreamError(UpstreamErrorCode.TIMEOUT, "upstream did not answer in time") from None
        except aiohttp.ClientError as exc:
            detail = _describe(exc)
            self._record(ok=False, detail=detail)
            raise UpstreamError(UpstreamErrorCode.UNAVAILABLE, f"upstream unreachable: {detail}") from None

    def _record(self, *, ok: bool, detail: str) -> None:
        self._last = _Outcome(ok, detail, self._clock())

    def _maybe_recheck(self, last: _Outcome) -> None:
        in_flight = self._recheck is not None and not self._recheck.done()
        if not in_flight and self._clock() - last.at >= self._recheck_s:
            self._recheck = asyncio.get_running_loop().create_task(self._check_models())

    async def _check_models(self) -> None:
        try:
            with self._translate():
                async with self._session.get(f"{self._base_url}/models") as response:
                    await _raise_for_status(response)
        except UpstreamError:
            return  # already recorded; the next stale probe tries again
        self._record(ok=True, detail="ok")


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status < 300:
        return
    text = (await response.text(errors="replace"))[:_ERROR_TEXT_CHARS]
    raise UpstreamError(UpstreamErrorCode.STATUS, f"upstream answered {response.status}: {text}")


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
