"""Assertions and metrics on recorded timelines whose answers are known."""

from __future__ import annotations

import pytest

from scenarios import assertions, metrics
from scenarios.records import RequestRecord, StatusSample


def timeline(*modes: str | None, start: float = 100.0, step: float = 0.1) -> list[StatusSample]:
    """Samples every ``step`` seconds with the given modes, breakers empty."""
    return [StatusSample(start + i * step, 0.0, m) for i, m in enumerate(modes)]


def req(t: float, status: int = 200, latency: float = 0.05, mode: str = "normal", notice: bool = False) -> RequestRecord:
    return RequestRecord(t=t, wall=0.0, latency_s=latency, status=status, mode=mode, notice=notice)


def test_percentile_uses_nearest_rank() -> None:
    """p50 of 1..10 is 5, p95 is 10, p10 is 1; no values gives None."""
    values = [float(v) for v in range(10, 0, -1)]
    assert metrics.percentile(values, 50) == 5.0
    assert metrics.percentile(values, 95) == 10.0
    assert metrics.percentile(values, 10) == 1.0
    assert metrics.percentile([], 50) is None


def test_time_to_degrade_and_recover_measure_from_the_event() -> None:
    """Degradation seen 0.3 s after the fault, recovery 0.2 s after the revert."""
    samples = timeline("normal", "normal", "normal", "degraded-no-context", "degraded-no-context", "normal")
    assert metrics.time_to_degrade(samples, 100.0) == pytest.approx(0.3)
    assert metrics.time_to_recover(samples, 100.3) == pytest.approx(0.2)
    assert metrics.time_to_recover(samples, 100.6) is None


def test_mode_shares_hold_each_sample_until_the_next() -> None:
    """Two of four equal intervals degraded gives a 50% share."""
    samples = timeline("normal", "static-only", "static-only", "normal")
    shares = metrics.mode_shares(samples, 100.0, 100.4)
    assert shares == pytest.approx({"normal": 0.5, "static-only": 0.5})


def test_availability_counts_degraded_answers_as_success() -> None:
    """A 200 in a degraded mode is available; a 503 and a connection error are not."""
    records = [req(1, mode="static-only"), req(2), req(3, status=503), RequestRecord(4, 0, 1.0, 0, error="ConnectError")]
    assert metrics.availability(records) == 0.5


def test_mode_becomes_passes_when_reached_in_time() -> None:
    """Reaching the mode 0.3 s after the event passes a 1 s bound and reports the delay."""
    samples = timeline("normal", "normal", "normal", "degraded-no-context")
    verdict = assertions.mode_becomes(samples, "degraded-no-context", 100.0, 1.0, now=101.0)
    assert verdict.passed and verdict.value == pytest.approx(0.3)


def test_mode_becomes_fails_with_the_modes_seen() -> None:
    """Never reaching the mode fails and the message names what was seen instead."""
    samples = timeline("normal", "normal", "static-only")
    verdict = assertions.mode_becomes(samples, "degraded-no-context", 100.0, 0.15, now=101.0)
    assert not verdict.passed
    assert "normal" in verdict.observed
    assert "expected <= 0.15s" in verdict.message()


def test_mode_stays_fails_at_the_first_deviation() -> None:
    """One degraded sample inside the window fails, at that sample's time."""
    samples = timeline("normal", "normal", "degraded-no-context", "normal")
    verdict = assertions.mode_stays(samples, "normal", 100.0, 100.3)
    assert not verdict.passed
    assert verdict.at == pytest.approx(100.2)


def test_mode_stays_fails_on_a_gap_without_samples() -> None:
    """A silent stretch longer than the allowed gap is not evidence of the mode."""
    samples = [StatusSample(100.0, 0, "normal"), StatusSample(102.0, 0, "normal")]
    assert not assertions.mode_stays(samples, "normal", 100.0, 102.0, max_gap_s=1.0).passed
    assert assertions.mode_stays(timeline(*["normal"] * 11), "normal", 100.0, 101.0).passed


def test_breaker_timeline_prefers_reported_transitions_over_samples() -> None:
    """A half-open phase too short for the sampler is kept from the reported transitions."""
    samples = [StatusSample(100.0, 0, "x", {"db": "closed"}), StatusSample(101.0, 0, "x", {"db": "open"}),
               StatusSample(102.0, 0, "x", {"db": "closed"})]
    transitions = [(100.5, "closed", "open"), (101.50, "open", "half-open"), (101.52, "half-open", "closed")]
    merged = metrics.breaker_timeline(samples, transitions, "db")
    assert [s for _, s in merged] == ["closed", "open", "half-open", "closed"]
    assert [s for _, s in metrics.breaker_timeline(samples, [], "db")] == ["closed", "open", "closed"]


def test_breaker_sequence_allows_extra_cycles_between_expected_states() -> None:
    """closed, open, half-open, open, half-open, closed went through closed, open, half-open, closed."""
    tl = [(1.0, "closed"), (2.0, "open"), (3.0, "half-open"), (3.1, "open"), (4.0, "half-open"), (4.1, "closed")]
    assert assertions.breaker_sequence(tl, "db", ["closed", "open", "half-open", "closed"], 0.5).passed
    failed = assertions.breaker_sequence(tl[:3], "db", ["closed", "open", "half-open", "closed"], 0.5)
    assert not failed.passed and failed.observed == "closed, open, half-open"


def test_breaker_reaches_measures_from_since() -> None:
    """Opening 1.5 s after the fault passes a 2 s bound and fails a 1 s bound."""
    tl = [(0.0, "closed"), (11.5, "open")]
    assert assertions.breaker_reaches(tl, "db", "open", 10.0, 2.0, now=20.0).passed
    late = assertions.breaker_reaches(tl, "db", "open", 10.0, 1.0, now=20.0)
    assert not late.passed and "1.50s" in late.observed


def test_latency_and_server_error_assertions_report_evidence() -> None:
    """p95 over the bound fails with the measured value; a 500 is counted as a server error."""
    records = [req(float(i), latency=0.01) for i in range(19)] + [req(19.0, latency=2.0, status=500)]
    assert assertions.latency_below(records, 95, 0.1, "since the fault").passed
    assert not assertions.latency_below(records, 99, 0.1, "since the fault").passed
    errors = assertions.no_server_errors(records)
    assert not errors.passed and errors.observed == "1 of 20 (status 500)"


def test_notices_present_needs_at_least_one_answer_in_the_mode() -> None:
    """No degraded answers at all is a failure, not a vacuous pass."""
    assert not assertions.notices_present([req(1.0)], "degraded-no-context").passed
    answers = [req(1.0, mode="degraded-no-context", notice=True), req(2.0, mode="degraded-no-context")]
    verdict = assertions.notices_present(answers, "degraded-no-context")
    assert not verdict.passed and verdict.observed == "1 of 2 with a notice"


def test_availability_leaves_out_requests_the_harness_cancelled() -> None:
    """A request cut off because the load stopped is not counted against the system."""
    records = [req(1.0), RequestRecord(2.0, 0.0, 0.1, 0, error="Cancelled")]
    assert metrics.availability(records) == 1.0


def test_slowest_request_counts_unanswered_requests_and_reports_when() -> None:
    """One 9 s request among fast ones fails a 5 s bound, even if it ended without an answer."""
    fast = [req(float(i), latency=0.01) for i in range(50)]
    assert assertions.slowest_below(fast, 5.0, "since the fault").passed
    verdict = assertions.slowest_below([*fast, req(60.0, status=0, latency=9.1)], 5.0, "since the fault")
    assert not verdict.passed and verdict.at == 60.0 and verdict.observed.startswith("slowest 9100.0 ms")
    assert not assertions.slowest_below([], 5.0, "since the fault").passed


def test_slowest_below_fails_on_a_request_still_open_past_the_bound() -> None:
    """A user whose last answer ended 6.4 s ago is stuck in a request: "nothing took longer than 5 s" fails."""
    answered = [RequestRecord(t=t, wall=0.0, latency_s=0.1, status=200, user="u1") for t in (10.0, 11.0)]
    stuck = [RequestRecord(t=10.5, wall=0.0, latency_s=0.1, status=200, user="u2")]
    records = answered + stuck
    verdict = assertions.slowest_below(records, 5.0, "since the fault", now=17.0, users_seen=records)
    assert not verdict.passed
    assert "1 users waiting on a request for 6.4s" in verdict.observed
    assert assertions.slowest_below(records, 5.0, "since the fault", now=15.0, users_seen=records).passed


def test_waiting_users_allows_think_time_and_ignores_records_without_a_user() -> None:
    """Within max + slack of its last answer a user is thinking, not waiting; anonymous records are not users."""
    records = [RequestRecord(t=0.0, wall=0.0, latency_s=1.0, status=200, user="u1"),
               RequestRecord(t=0.0, wall=0.0, latency_s=1.0, status=200)]
    assert assertions.waiting_users(records, now=6.9, max_s=5.0) == {}
    assert assertions.waiting_users(records, now=7.5, max_s=5.0) == {"u1": pytest.approx(6.5)}
