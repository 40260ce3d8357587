"""The catalogue of flawed gateway variants: each reproduces one real resilience mistake, on purpose.

A resilience suite is only worth what it catches. ``GATEWAY_VARIANT=<name>`` starts the gateway with
exactly one of these mistakes, so ``docs/detection.md`` can show which scenario of the suite fails for
which mistake, and a test can keep it that way. Without the variable the gateway is the reference.
The names live here, apart from their implementation (flaws.py), so settings can parse them.
"""

from __future__ import annotations

from enum import StrEnum


class Flaw(StrEnum):
    TEXTBOOK_BREAKER = "textbook-breaker"
    TIMEOUTS_EXCLUDED = "timeouts-excluded"
    NO_DEADLINE = "no-deadline"
    RETRY_STORM = "retry-storm"
    STUCK_OPEN = "stuck-open"
    WRONG_MODE = "wrong-mode"
    NO_FALLBACK = "no-fallback"
    CACHE_IGNORED = "cache-ignored"
    EARLY_READY = "early-ready"
    HEALTH_CHECK_PER_REQUEST = "health-check-per-request"
    IGNORES_RETRY_AFTER = "ignores-retry-after"
    SLEEPS_RETRY_AFTER = "sleeps-retry-after"
    NO_STREAM_IDLE_TIMEOUT = "no-stream-idle-timeout"
    STREAM_ERROR_AS_5XX = "stream-error-as-5xx"
    SILENT_TRUNCATION = "silent-truncation"
    QUERY_TYPE_BREAKER = "query-type-breaker"


DESCRIPTIONS: dict[Flaw, str] = {
    Flaw.TEXTBOOK_BREAKER: "pybreaker's decorator on an async def: success is recorded when the coroutine is "
    "created, so the breaker never opens",
    Flaw.TIMEOUTS_EXCLUDED: "timeouts excluded from the breaker (pybreaker even counts them as successes)",
    Flaw.NO_DEADLINE: "no request deadline: every attempt gets its full timeout, retries x timeout keep users waiting",
    Flaw.RETRY_STORM: "retries without jitter or retry budget: every transient error is retried in lockstep",
    Flaw.STUCK_OPEN: "a breaker that never leaves open: no half-open, the system stays degraded after recovery",
    Flaw.WRONG_MODE: "the wrong mode reported: 'normal' (and no notice) while no context was used",
    Flaw.NO_FALLBACK: "no fallback: a dependency failure becomes a 5xx",
    Flaw.CACHE_IGNORED: "the answer cache is never consulted in degraded-cache-only",
    Flaw.EARLY_READY: "ready before the index is loaded: probes pass while /chat still fails",
    Flaw.HEALTH_CHECK_PER_REQUEST: "a health check of each dependency before every request",
    Flaw.IGNORES_RETRY_AFTER: "429s retried at once, up to 5 attempts, ignoring Retry-After and the retry budget: "
    "it hammers a provider that asked it to slow down",
    Flaw.SLEEPS_RETRY_AFTER: "any Retry-After is slept, even past the request's deadline: the user waits for a "
    "retry that has no time left to succeed",
    Flaw.NO_STREAM_IDLE_TIMEOUT: "no first-token or idle timeout on the LLM stream: a stalled stream holds the user "
    "until the 30 s LLM timeout",
    Flaw.STREAM_ERROR_AS_5XX: "a broken LLM stream becomes a 5xx before the first token and an aborted "
    "connection after it",
    Flaw.SILENT_TRUNCATION: "a stream broken mid-answer ends as 'complete' without a notice: a truncated answer "
    "passes for a whole one",
    Flaw.QUERY_TYPE_BREAKER: "5 failures in the window open the breaker whatever the failure rate: one failing "
    "query type degrades every user",
}


def parse_flaw(value: str) -> Flaw | None:
    """The flaw named by ``GATEWAY_VARIANT`` ('' or 'reference' for none); ValueError names the choices."""
    if value in ("", "reference"):
        return None
    try:
        return Flaw(value)
    except ValueError:
        raise ValueError(f"unknown variant {value!r} (known: reference, {', '.join(f.value for f in Flaw)})") from None
