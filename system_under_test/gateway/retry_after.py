"""``Retry-After``: what a rate-limited or overloaded dependency asks for, and whether to grant it.

    429 / 503 / 529 answer
        │  retry-after-ms: 1500        -> 1.5 s   (some LLM providers; more precise, so read first)
        │  Retry-After: 2 | 0.5        -> seconds (decimals allowed, as providers send them)
        │  Retry-After: <IMF-fixdate>  -> the date minus now (a date already past: no usable wait)
        │  absent, negative, garbage   -> None: the normal full-jitter backoff decides
        v
    decide_retry(...)
        attempts left?           no  -> refuse "attempts"
        wait + an attempt fits
        in the deadline?         no  -> refuse "deadline": degrade NOW, never sleep past the deadline
        retry budget agrees?     no  -> refuse "budget"
        -> retry after the asked wait (or the drawn backoff)

openai-python reads the same three forms (and gives up above 60-120 s); here the request's own
deadline is the limit, because a user waiting longer than the deadline is worse off than one who gets
the degraded answer at once. Everything is pure: the clock, the deadline and the budget come in as values.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from .retry import Backoff

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def parse_retry_after(headers: Mapping[str, str], now_wall: float) -> float | None:
    """Seconds the dependency asked us to wait, or None when it asked nothing usable.

    ``now_wall`` is the wall-clock time (``time.time()``) an HTTP date is measured from.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = _number(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    return _date_wait(raw, now_wall)


def _number(raw: str | None) -> float | None:
    """A non-negative decimal number; anything else (negative, 1e3, inf, text) is not one."""
    if raw is None:
        return None
    match = _NUMBER.match(raw)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def _date_wait(raw: str, now_wall: float) -> float | None:
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is read as such
        return None
    wait = when.timestamp() - now_wall
    # A date in the past says the clocks disagree, not "retry now": no usable wait, so back off normally.
    return wait if wait > 0 else None


@dataclass(frozen=True)
class RetryDecision:
    """Whether to retry, after how long, and why; ``retry_after_s`` is what the dependency asked for."""

    retry: bool
    wait_s: float
    reason: str  # "retry-after" | "backoff" when retrying; "attempts" | "deadline" | "budget" when not
    retry_after_s: float | None = None

    @property
    def honoured(self) -> bool:
        return self.retry and self.reason == "retry-after"


def decide_retry(
    *,
    retry_after_s: float | None,
    attempt: int,
    max_attempts: int,
    remaining_s: float,
    min_attempt_s: float,
    backoff: Backoff,
    rng: random.Random,
    budget_allows: Callable[[], bool],
) -> RetryDecision:
    """The retry rule for one failed, retryable attempt (``attempt`` 0 = the first one failed).

    ``budget_allows`` is asked last, and only when everything else agrees, because asking takes a retry
    from the budget.
    """
    if attempt + 1 >= max_attempts:
        return RetryDecision(False, 0.0, "attempts", retry_after_s)
    # With a Retry-After the wait is known; without, the worst case of the jittered sleep must fit.
    worst = retry_after_s if retry_after_s is not None else backoff.ceiling(attempt)
    if remaining_s < worst + min_attempt_s:
        return RetryDecision(False, 0.0, "deadline", retry_after_s)
    if not budget_allows():
        return RetryDecision(False, 0.0, "budget", retry_after_s)
    if retry_after_s is not None:
        return RetryDecision(True, retry_after_s, "retry-after", retry_after_s)
    return RetryDecision(True, backoff.delay(attempt, rng), "backoff")
