"""The rate-window breaker: when it opens, how it probes in half-open, and that stale calls cannot flip it."""

from __future__ import annotations

import random

import pytest

from system_under_test.gateway.breaker import BreakerConfig, BreakerState, RateBreaker, Transition
from system_under_test.gateway.errors import CircuitOpenError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: FakeClock, **overrides: float) -> RateBreaker:
    config = BreakerConfig(**{"consecutive_failures": 100, "min_calls": 10, "window_s": 10.0, "reset_timeout_s": 30.0, **overrides})  # type: ignore[arg-type]
    return RateBreaker("vector-db", config, clock=clock)


def run(breaker: RateBreaker, outcomes: str) -> None:
    """Make one call per character: 'o' succeeds, 'x' fails."""
    for outcome in outcomes:
        permit = breaker.acquire()
        if outcome == "o":
            breaker.record_success(permit)
        else:
            breaker.record_failure(permit, "ConnectError")


def test_breaker_opens_when_failure_rate_reaches_threshold() -> None:
    """Half the calls failing in the window, with enough calls, opens the breaker."""
    clock = FakeClock()
    breaker = make(clock)
    run(breaker, "oxoxoxoxo")
    assert breaker.state is BreakerState.CLOSED
    run(breaker, "x")
    assert breaker.state is BreakerState.OPEN


def test_breaker_stays_closed_below_minimum_calls() -> None:
    """Even 100% failures do not open the breaker before min_calls calls were seen."""
    clock = FakeClock()
    breaker = make(clock, min_calls=10)
    run(breaker, "xxxxxxxxx")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate() == 1.0


def test_breaker_stays_closed_below_threshold() -> None:
    """A 40% failure share stays under a 50% threshold."""
    clock = FakeClock()
    breaker = make(clock)
    run(breaker, "ooxoxooxoo" * 3)
    assert breaker.state is BreakerState.CLOSED


def test_breaker_forgets_failures_outside_the_window() -> None:
    """Failures older than window_s no longer count toward the rate."""
    clock = FakeClock()
    breaker = make(clock, window_s=10.0)
    run(breaker, "xxxxxxxxx")
    clock.now += 11
    run(breaker, "oooooooox")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate() == pytest.approx(1 / 9)


def test_breaker_opens_on_consecutive_failures() -> None:
    """consecutive_failures failures in a row open it even below min_calls."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=3, min_calls=50)
    run(breaker, "xx")
    assert breaker.state is BreakerState.CLOSED
    run(breaker, "x")
    assert breaker.state is BreakerState.OPEN


def test_breaker_success_resets_consecutive_count() -> None:
    """A success between failures restarts the consecutive count."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=3, min_calls=50)
    run(breaker, "xxoxxo")
    assert breaker.state is BreakerState.CLOSED


def test_breaker_open_rejects_calls_without_calling() -> None:
    """An open breaker raises CircuitOpenError naming the dependency."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1)
    run(breaker, "x")
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.dependency == "vector-db"
    assert not breaker.allows_calls


def test_breaker_goes_half_open_after_reset_timeout() -> None:
    """The state read after reset_timeout_s is half-open, on the monotonic clock."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1, reset_timeout_s=30.0)
    run(breaker, "x")
    clock.now += 29.9
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.2
    assert breaker.state is BreakerState.HALF_OPEN


def test_breaker_half_open_limits_concurrent_trials() -> None:
    """Half-open admits half_open_max_calls trials at once and refuses the next."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1, half_open_max_calls=2, success_threshold=2)
    run(breaker, "x")
    clock.now += 31
    first, second = breaker.acquire(), breaker.acquire()
    assert first.trial and second.trial
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    breaker.release(first)
    assert breaker.acquire().trial


def test_breaker_closes_after_successful_trials() -> None:
    """success_threshold successful trials close the breaker."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1, half_open_max_calls=3, success_threshold=2)
    run(breaker, "x")
    clock.now += 31
    run(breaker, "o")
    assert breaker.state is BreakerState.HALF_OPEN
    run(breaker, "o")
    assert breaker.state is BreakerState.CLOSED


def test_breaker_reopens_when_a_trial_fails() -> None:
    """One failed trial reopens the breaker and restarts the reset timeout."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1)
    run(breaker, "x")
    clock.now += 31
    run(breaker, "x")
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    assert breaker.state is BreakerState.OPEN


def test_breaker_counts_timeouts_as_failures() -> None:
    """A timeout recorded as failure opens the breaker like any other failure (never as a success)."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=2)
    for _ in range(2):
        breaker.record_failure(breaker.acquire(), "Timeout")
    assert breaker.state is BreakerState.OPEN
    assert breaker.last_error == "Timeout"


def test_breaker_ignores_outcomes_of_calls_from_an_earlier_state() -> None:
    """A call permitted while closed that finishes after the breaker opened cannot affect the new state."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=1, success_threshold=1)
    slow = breaker.acquire()
    run(breaker, "x")
    clock.now += 31
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success(slow)
    assert breaker.state is BreakerState.HALF_OPEN


def test_breaker_records_the_full_transition_sequence() -> None:
    """closed -> open -> half-open -> closed is recorded with reasons and reported to the listener."""
    clock = FakeClock()
    seen: list[Transition] = []
    breaker = RateBreaker(
        "llm", BreakerConfig(consecutive_failures=1, success_threshold=1), clock=clock, on_transition=seen.append
    )
    run(breaker, "x")
    clock.now += 31
    run(breaker, "o")
    states = [(t.from_state.value, t.to_state.value) for t in breaker.transitions]
    assert states == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert seen == list(breaker.transitions)
    assert "consecutive" in seen[0].reason


def test_breaker_config_rejects_impossible_values() -> None:
    """A success threshold above the half-open trial limit could never close the breaker."""
    with pytest.raises(ValueError):
        BreakerConfig(half_open_max_calls=1, success_threshold=2)
    with pytest.raises(ValueError):
        BreakerConfig(failure_rate_threshold=0.0)


def test_breaker_minority_query_type_failing_at_random_never_opens() -> None:
    """300 calls a second, a tenth of them (one query type, in random order) failing: closed throughout."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=10, min_calls=10)
    rng = random.Random(5)
    for second in range(30):
        clock.now = 1000.0 + second
        run(breaker, "".join("x" if rng.random() < 0.1 else "o" for _ in range(300)))
    assert breaker.state is BreakerState.CLOSED
    assert 0.05 < breaker.failure_rate() < 0.15


def test_breaker_streak_opens_before_the_rate_does_under_load() -> None:
    """A dependency that dies under load: 10 failures in a row open it while the window is still mostly successes."""
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=10, min_calls=10)
    run(breaker, "o" * 500)
    run(breaker, "x" * 9)
    assert breaker.state is BreakerState.CLOSED
    run(breaker, "x")
    assert breaker.state is BreakerState.OPEN
    assert breaker.failure_rate() < 0.5
    assert "consecutive" in breaker.transitions[-1].reason
