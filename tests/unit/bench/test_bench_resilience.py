"""The bounds time-to-degrade is compared with, and reading degraded answers from the records."""

from __future__ import annotations

import pytest

from bench.profile import ReferenceKnobs
from bench.resilience import Case, SteadyLoad, answering_normally, degrade_bound, fast_fail_p99, first_answer
from scenarios.records import RequestRecord


STEADY = SteadyLoad(gap_s=0.01, p99_s=0.1)


def test_refused_connections_are_bounded_by_retry_sleeps_plus_the_requests_that_meet_them() -> None:
    """A kill or partition is noticed at once: the worst retry sleeps, one gap to the next request, its p99."""
    knobs = ReferenceKnobs()
    assert degrade_bound(knobs, "kill", "vector-db", STEADY) == pytest.approx(0.15 + 0.01 + 0.1)
    assert degrade_bound(knobs, "partition", "llm", STEADY) == pytest.approx(0.05 + 0.01 + 0.1)


def test_a_blackhole_is_bounded_by_the_per_attempt_timeout() -> None:
    """Silence is only noticed when the attempt times out: that timeout plus one request."""
    knobs = ReferenceKnobs(vectordb_timeout_s=3.0, llm_timeout_s=5.0)
    assert degrade_bound(knobs, "blackhole", "vector-db", STEADY) == pytest.approx(3.11)
    assert degrade_bound(knobs, "blackhole", "llm", STEADY) == pytest.approx(5.11)


def test_the_breaker_bound_waits_for_its_consecutive_failures() -> None:
    """The breaker needs N failing requests, so N gaps between request starts go into its bound."""
    knobs = ReferenceKnobs(consecutive_failures=5)
    assert degrade_bound(knobs, "blackhole", "vector-db", STEADY, 5) == pytest.approx(3.0 + 0.05 + 0.1)


def _record(t: float, latency: float, mode: str, status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, wall=t, latency_s=latency, status=status, mode=mode)


def test_first_answer_is_the_earliest_arrival_in_the_mode() -> None:
    """The first degraded answer is the earliest to *arrive* after the fault, not the earliest to start."""
    records = [
        _record(9.0, 0.5, "degraded-no-context"),  # arrived before the fault
        _record(10.1, 2.0, "degraded-no-context"),  # started first, arrived at 12.1
        _record(10.5, 0.1, "degraded-no-context"),  # arrived at 10.6
        _record(10.2, 0.1, "normal"),
        _record(10.0, 0.1, "degraded-no-context", status=500),
    ]
    assert first_answer(records, "degraded-no-context", 10.0) == pytest.approx(10.6)
    assert first_answer(records, "static-only", 10.0) is None


def test_fast_fail_pools_every_fault_of_one_dependency() -> None:
    """Fast fail is the p99 over the answers of all fault kinds on that dependency, and only that one."""
    cases = [Case("kill", "vector-db", 1.0, 0.1, 0.1, 5.0, (0.001,) * 99),
             Case("blackhole", "vector-db", 3.0, 3.0, 3.0, 5.0, (0.5,)),
             Case("kill", "llm", 1.0, 0.1, 0.1, 5.0, (9.0,))]
    assert fast_fail_p99(cases, "vector-db") == 0.001
    assert fast_fail_p99(cases, "llm") == 9.0
    assert fast_fail_p99([], "llm") is None


def test_answering_normally_needs_recent_normal_answers_only() -> None:
    """The system counts as settled only when enough recent answers arrived and all were normal."""
    normal = [_record(9.6 + i * 0.05, 0.01, "normal") for i in range(6)]
    assert answering_normally(normal, 10.0)
    assert not answering_normally(normal + [_record(9.9, 0.01, "degraded-cache-only")], 10.0)
    assert not answering_normally(normal[:3], 10.0)
    assert not answering_normally(normal, 11.0)  # nothing arrived in the last half second
