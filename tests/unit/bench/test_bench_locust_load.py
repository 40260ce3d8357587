"""What a window of load shows, and which user level counts as sustainable capacity."""

from __future__ import annotations

from bench.locust_load import LoadStats, summarize, sustainable
from scenarios.records import RequestRecord


def _record(t: float, latency: float, status: int = 200, mode: str | None = "normal") -> RequestRecord:
    return RequestRecord(t=t, wall=t, latency_s=latency, status=status, mode=mode)


def test_summarize_counts_requests_finished_inside_the_window() -> None:
    """Throughput counts answers that arrived within [start, end); latency uses requests started in it."""
    records = [
        _record(9.8, 0.4),  # started before, finished inside: counted for throughput only
        _record(10.0, 0.1),
        _record(10.5, 0.2, status=0, mode=None),  # no answer: finished, not ok, no latency
        _record(11.8, 0.5),  # started inside, finished after: latency only
    ]
    stats = summarize(records, 10.0, 12.0, users=4)
    assert stats.finished == 3 and stats.ok == 2
    assert stats.rps == 1.5 and stats.ok_rps == 1.0
    assert stats.p50_s == 0.1 and stats.p99_s == 0.5
    assert stats.modes == {"normal": 2} and stats.users == 4


def test_summarize_of_an_empty_window() -> None:
    """No records: zero rates and no percentiles, not an error."""
    stats = summarize([], 0.0, 1.0)
    assert stats.rps == 0.0 and stats.p99_s is None


def _stats(users: int, ok: int, p99: float | None) -> LoadStats:
    return LoadStats(users, 1.0, ok, ok, p99, p99)


def test_sustainable_takes_the_best_rate_under_the_p99_limit() -> None:
    """The highest rate of usable answers wins among the levels whose p99 stayed under 1 s."""
    tried = [_stats(4, 100, 0.05), _stats(16, 300, 0.4), _stats(64, 350, 1.5)]
    best = sustainable(tried)
    assert best is not None and best.users == 16


def test_sustainable_is_none_when_every_level_was_too_slow() -> None:
    """When even the lowest load had p99 over the limit there is no sustainable rate."""
    assert sustainable([_stats(4, 10, 1.2), _stats(8, 0, None)]) is None
