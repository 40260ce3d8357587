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
}


def parse_flaw(value: str) -> Flaw | None:
    """The flaw named by ``GATEWAY_VARIANT`` ('' or 'reference' for none); ValueError names the choices."""
    if value in ("", "reference"):
        return None
    try:
        return Flaw(value)
    except ValueError:
        raise ValueError(f"unknown variant {value!r} (known: reference, {', '.join(f.value for f in Flaw)})") from None
