"""Retry-After: parsing every form providers send, and the decision to honour it or degrade at once."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from system_under_test.gateway.retry import Backoff, Deadline
from system_under_test.gateway.retry_after import RetryDecision, decide_retry, parse_retry_after

NOW = 1_800_000_000.0  # a fixed wall-clock time for HTTP dates


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "2"}, 2.0),
    ({"Retry-After": "0"}, 0.0),
    ({"retry-after": " 1.5 "}, 1.5),
    ({"Retry-After": "0.25"}, 0.25),
    ({"retry-after-ms": "1500"}, 1.5),
    ({"Retry-After-Ms": "20.5"}, 0.0205),
    ({"retry-after-ms": "300", "Retry-After": "60"}, 0.3),
])
def test_retry_after_parses_seconds_decimals_and_ms(headers: dict[str, str], expected: float) -> None:
    """Seconds (decimals allowed) and retry-after-ms, header names in any case; ms wins over seconds."""
    assert parse_retry_after(headers, NOW) == pytest.approx(expected)


def test_retry_after_parses_a_future_http_date() -> None:
    """An IMF-fixdate 30 s ahead of now is a 30 s wait."""
    date = formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, NOW) == pytest.approx(30.0)


def test_retry_after_past_http_date_is_no_usable_wait() -> None:
    """A date already past (clock skew) gives no wait: the normal backoff decides instead."""
    date = formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, NOW) is None


@pytest.mark.parametrize("headers", [
    {},
    {"Retry-After": ""},
    {"Retry-After": "-5"},
    {"Retry-After": "soon"},
    {"Retry-After": "1e3"},
    {"Retry-After": "inf"},
    {"Retry-After": "nan"},
    {"retry-after-ms": "-100"},
    {"Retry-After": "Mon, 99 Foo 2026 25:61:00 GMT"},
    {"Retry-After": "Fri, 04 Dec 2026 18:26:22"},  # no zone: not an RFC 9110 date
])
def test_retry_after_absent_negative_or_garbage_is_none(headers: dict[str, str]) -> None:
    """Anything that is not a non-negative number or a zoned HTTP date means 'no Retry-After'."""
    assert parse_retry_after(headers, NOW) is None


def test_retry_after_garbage_ms_falls_back_to_seconds() -> None:
    """An unreadable retry-after-ms does not hide a good Retry-After."""
    assert parse_retry_after({"retry-after-ms": "x", "Retry-After": "3"}, NOW) == 3.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Budget:
    """Counts how often the retry budget was asked; says ``allow``."""

    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.allow


def decide(
    retry_after: float | None, deadline: Deadline, budget: Budget, attempt: int = 0, attempts: int = 2
) -> RetryDecision:
    return decide_retry(retry_after_s=retry_after, attempt=attempt, max_attempts=attempts,
                        remaining_s=deadline.remaining(), min_attempt_s=0.01, backoff=Backoff(0.05, 1.0),
                        rng=random.Random(1), budget_allows=budget)


def test_decide_honours_a_retry_after_that_fits_the_deadline() -> None:
    """Retry-After 2 s with 10 s left and budget to spare: retry after exactly 2 s."""
    clock, budget = Clock(), Budget()
    decision = decide(2.0, Deadline(10.0, clock), budget)
    assert decision.retry and decision.honoured and decision.wait_s == 2.0 and decision.reason == "retry-after"
    assert budget.asked == 1


def test_decide_refuses_a_retry_after_past_the_deadline_without_spending_budget() -> None:
    """Retry-After 2 s with 1.5 s left: no retry, reason deadline, and the budget is not touched."""
    clock, budget = Clock(), Budget()
    deadline = Deadline(10.0, clock)
    clock.now += 8.5
    decision = decide(2.0, deadline, budget)
    assert not decision.retry and decision.reason == "deadline" and not decision.honoured
    assert decision.retry_after_s == 2.0
    assert budget.asked == 0


def test_decide_refuses_when_the_wait_leaves_no_time_for_the_attempt() -> None:
    """A wait that ends exactly at the deadline leaves no time to make the call: refused."""
    clock = Clock()
    assert decide(5.0, Deadline(5.0, clock), Budget()).reason == "deadline"


def test_decide_refuses_when_the_budget_is_spent() -> None:
    """A fitting Retry-After is still refused when the retry budget says no."""
    decision = decide(0.5, Deadline(10.0, Clock()), Budget(allow=False))
    assert not decision.retry and decision.reason == "budget"


def test_decide_refuses_when_no_attempts_remain() -> None:
    """The last attempt failed: no retry whatever the dependency asked, and the budget is not asked."""
    budget = Budget()
    decision = decide(0.1, Deadline(10.0, Clock()), budget, attempt=1, attempts=2)
    assert decision.reason == "attempts" and budget.asked == 0


def test_decide_without_retry_after_uses_full_jitter_backoff() -> None:
    """No Retry-After: the sleep is drawn from [0, ceiling] and the reason is backoff."""
    decision = decide(None, Deadline(10.0, Clock()), Budget())
    assert decision.retry and decision.reason == "backoff" and not decision.honoured
    assert 0.0 <= decision.wait_s <= Backoff(0.05, 1.0).ceiling(0)
    assert decision.retry_after_s is None


def test_decide_without_retry_after_refuses_when_the_worst_backoff_does_not_fit() -> None:
    """With less time left than the backoff ceiling, the retry is refused for the deadline."""
    clock = Clock()
    deadline = Deadline(1.0, clock)
    clock.now += 0.96
    assert decide(None, deadline, Budget()).reason == "deadline"
