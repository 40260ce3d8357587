"""Reading counters for "since the fault" checks: parsed exactly, and a failed read is an error, not zero."""

from __future__ import annotations

import socket

import httpx
import pytest

from core.errors import ExitCode, MeasurementError
from scenarios import prometheus


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_parse_and_total_sum_samples_by_labels() -> None:
    """Samples are keyed by sorted labels; total() sums those whose labels include the ones asked for."""
    samples = prometheus.parse('# HELP x\nr_total{dependency="llm",kind="a"} 3\nr_total{kind="b",dependency="llm"} 4\n'
                               'r_total{dependency="vector-db"} 5\nbad line\n')
    assert prometheus.total(samples, "r_total", dependency="llm") == 7.0
    assert prometheus.total(samples, "r_total") == 12.0


def test_scrape_of_an_unreachable_endpoint_is_a_measurement_error() -> None:
    """Nothing listening: MeasurementError (exit 3) naming the URL, where it used to be an empty dict."""
    url = f"http://127.0.0.1:{closed_port()}/metrics"
    with pytest.raises(MeasurementError, match=f"cannot read {url}") as info:
        prometheus.scrape(url, timeout_s=1.0)
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert prometheus.baseline(lambda: prometheus.scrape(url, timeout_s=1.0)) is None


def test_scrape_of_an_error_status_is_a_measurement_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 503 from /metrics is not "no counters": it is a measurement that could not be taken."""
    def answer(url: str, **_: object) -> httpx.Response:
        return httpx.Response(503, text="starting")

    monkeypatch.setattr(httpx, "get", answer)
    with pytest.raises(MeasurementError, match="HTTP 503"):
        prometheus.scrape("http://127.0.0.1:1/metrics")
