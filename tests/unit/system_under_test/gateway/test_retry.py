"""Deadlines, full-jitter backoff and the retry budget."""

from __future__ import annotations

import random

import pytest

from system_under_test.gateway.retry import Backoff, Deadline, RetryBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_never_goes_negative() -> None:
    """remaining() shrinks with the clock and stops at zero."""
    clock = FakeClock()
    deadline = Deadline(2.0, clock)
    clock.now += 0.5
    assert deadline.remaining() == pytest.approx(1.5)
    clock.now += 5
    assert deadline.remaining() == 0.0
    assert deadline.expired


def test_deadline_child_never_outlives_its_parent() -> None:
    """A stage's deadline is its own budget, cut to what the request has left."""
    clock = FakeClock()
    parent = Deadline(3.0, clock)
    assert parent.child(1.0).remaining() == pytest.approx(1.0)
    clock.now += 2.5
    assert parent.child(1.0).remaining() == pytest.approx(0.5)


def test_backoff_full_jitter_stays_within_bounds() -> None:
    """Each delay is within [0, min(cap, base * 2**attempt)]."""
    backoff = Backoff(base_s=0.1, cap_s=1.0)
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(1.0, 0.1 * 2**attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(500)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # full jitter spreads over the whole range, not just near the ceiling
        assert min(delays) < 0.1 * ceiling and max(delays) > 0.9 * ceiling


def test_backoff_is_reproducible_with_a_seed() -> None:
    """The same seed gives the same delays, so runs can be replayed."""
    backoff = Backoff()
    first = [backoff.delay(a, random.Random(3)) for a in range(4)]
    second = [backoff.delay(a, random.Random(3)) for a in range(4)]
    assert first == second


def test_retry_budget_allows_the_floor_without_traffic() -> None:
    """With no requests, min_per_s * window_s retries are allowed, and no more."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.1, min_per_s=0.5, window_s=10.0, clock=clock)
    assert [budget.try_acquire() for _ in range(6)] == [True] * 5 + [False]


def test_retry_budget_grows_with_requests() -> None:
    """1000 requests at ratio 0.1 allow 100 retries on top of the floor, then refuse."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.1, min_per_s=0.0, window_s=10.0, clock=clock)
    for _ in range(1000):
        budget.record_request()
    granted = sum(budget.try_acquire() for _ in range(300))
    assert granted == 100


def test_retry_budget_refills_when_the_window_moves_on() -> None:
    """Retries spent more than window_s ago no longer count against the budget."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_s=0.2, window_s=10.0, clock=clock)
    assert sum(budget.try_acquire() for _ in range(5)) == 2
    clock.now += 11
    assert budget.try_acquire()


def test_retry_budget_rejects_a_ratio_outside_zero_to_one() -> None:
    """A ratio above 1 would allow more retries than requests: refused."""
    with pytest.raises(ValueError):
        RetryBudget(ratio=1.5)
