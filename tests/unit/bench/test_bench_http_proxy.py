"""The HTTP fault proxy's bench figures from known measurements: references, ratios, goals, tolerance."""

from __future__ import annotations

from typing import Any

import pytest

from bench import catalog
from bench.capacity import ModeCapacity
from bench.http_proxy import render, tolerance_s
from bench.locust_load import LoadStats


def result(added_p50: float = 0.3, proxy_rps: float = 3000.0, worst_first_ms: float = 505.0) -> dict[str, Any]:
    return {
        "latency": {"requests": 1000, "direct_p50_ms": 0.2, "direct_p99_ms": 0.4, "proxy_p50_ms": 0.2 + added_p50,
                    "proxy_p99_ms": 1.5, "added_p50_ms": added_p50, "added_p99_ms": 1.1},
        "throughput": {"concurrency": 16, "proxy": {"rps": proxy_rps, "p50_ms": 4.0, "p99_ms": 9.0},
                       "direct": {"rps": 6000.0, "p50_ms": 2.0, "p99_ms": 7.0}},
        "timing": [
            {"fault": "none (passthrough)", "measured": "time to first event", "requested_ms": 0.0, "trials": 5,
             "median_ms": 2.5, "worst_ms": 6.0, "tolerance_ms": None, "within": None},
            {"fault": "first_token_delay", "measured": "time to first event", "requested_ms": 500.0, "trials": 5,
             "median_ms": 504.0, "worst_ms": worst_first_ms, "tolerance_ms": 50.0, "within": True},
            {"fault": "token_delay", "measured": "mean gap between events", "requested_ms": 50.0, "trials": 5,
             "median_ms": 50.3, "worst_ms": 50.4, "tolerance_ms": 20.0, "within": True},
        ],
    }


def normal(rps: float) -> list[ModeCapacity]:
    stats = LoadStats(users=32, seconds=3.0, finished=int(rps * 3), ok=int(rps * 3), p50_s=0.02, p99_s=0.05)
    return [ModeCapacity("normal", stats, (stats,))]


def test_bench_http_proxy_tolerance_is_ten_percent_or_twenty_ms() -> None:
    """The promised tolerance is the larger of 10% and 20 ms."""
    assert tolerance_s(0.05) == 0.020
    assert tolerance_s(0.5) == pytest.approx(0.05)


def test_bench_http_proxy_figures_compare_with_direct_and_the_gateway() -> None:
    """Latency figures carry the direct reference; throughput is judged against 3x normal capacity."""
    figures = {f.key: f for f in catalog.http_proxy(result(), normal(600.0))}
    assert figures["http_proxy.p50"].ratio == pytest.approx(2.5)
    assert figures["http_proxy.added_p50"].met is True
    assert figures["http_proxy.throughput"].ratio == pytest.approx(5.0)
    assert figures["http_proxy.throughput"].met is True
    assert figures["http_proxy.first_token_delay"].met is True
    assert figures["http_proxy.token_delay"].reference == 50.0
    assert {f.group for f in figures.values()} == {catalog.HTTP_PROXY}


def test_bench_http_proxy_goals_fail_on_slow_proxy_or_late_delay() -> None:
    """Over 1 ms added, under 3x the capacity, or a delay late by more than the tolerance misses its goal."""
    figures = {f.key: f for f in catalog.http_proxy(result(added_p50=1.2, proxy_rps=1500.0, worst_first_ms=551.0),
                                                    normal(600.0))}
    assert figures["http_proxy.added_p50"].met is False
    assert figures["http_proxy.throughput"].met is False
    assert figures["http_proxy.first_token_delay"].met is False


def test_bench_http_proxy_throughput_without_a_capacity_has_no_verdict() -> None:
    """With no normal-mode capacity measured there is no reference, so no verdict (never a made-up pass)."""
    figures = {f.key: f for f in catalog.http_proxy(result(), [])}
    assert figures["http_proxy.throughput"].met is None


def test_bench_http_proxy_render_prints_every_section() -> None:
    """The standalone table shows latency, throughput with the gateway ratio, and every timing row."""
    data = {**result(), "gateway": {"rps": 600.0, "p50_ms": 20.0, "p99_ms": 40.0}}
    text = render(data)
    assert "| 1000 | 0.2 / 0.4 |" in text
    assert "proxy / gateway capacity: 5.0x" in text
    assert text.count("| first_token_delay |") == 1 and "| token_delay |" in text
