"""The Prometheus API client: answers parsed into typed values, every failure translated at the boundary."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from core.errors import ExitCode, PrometheusError
from monitoring.client import PrometheusClient, PrometheusUnreachable


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> PrometheusClient:
    return PrometheusClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler))


def _ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def test_monitoring_client_query_reads_vector_and_scalar() -> None:
    """An instant vector becomes labelled samples; a scalar one unlabelled sample."""
    answers = {
        "up": {"resultType": "vector", "result": [{"metric": {"job": "llm"}, "value": [1700000000.5, "1"]}]},
        "1+1": {"resultType": "scalar", "result": [1700000000.0, "2"]},
    }
    client = _client(lambda r: _ok(answers[r.url.params["query"]]))
    [sample] = client.query("up")
    assert (sample.labels, sample.value, sample.at) == ({"job": "llm"}, 1.0, 1700000000.5)
    assert client.query("1+1")[0].value == 2.0


def test_monitoring_client_alerts_parse_state_and_active_at() -> None:
    """Alerts carry their name, state, labels and activeAt (RFC 3339, nanoseconds) as Unix seconds."""
    data = {"alerts": [{"labels": {"alertname": "ChatbotDegraded", "job": "gateway"}, "state": "pending",
                        "activeAt": "2023-11-14T22:13:20.25Z", "value": "1e+00", "annotations": {"summary": "s"}}]}
    [alert] = _client(lambda r: _ok(data)).alerts()
    assert (alert.name, alert.state, alert.value) == ("ChatbotDegraded", "pending", 1.0)
    assert alert.active_at == pytest.approx(1700000000.25)
    assert alert.key == (("alertname", "ChatbotDegraded"), ("job", "gateway"))


def test_monitoring_client_rules_and_targets() -> None:
    """Alerting rules with their for: (seconds) and targets with their health are read from the API."""
    rules = {"groups": [{"name": "g", "file": "r.yml", "rules": [
        {"type": "alerting", "name": "A", "health": "ok", "duration": 5},
        {"type": "recording", "name": "r", "health": "ok"}]}]}
    targets = {"activeTargets": [{"labels": {"job": "gateway"}, "scrapeUrl": "http://x/metrics", "health": "up",
                                  "lastError": ""}]}
    client = _client(lambda r: _ok(rules if r.url.path.endswith("rules") else targets))
    [rule] = client.rules()
    assert (rule.name, rule.for_s, rule.group) == ("A", 5.0, "g")
    [target] = client.targets()
    assert (target.job, target.health, target.last_error) == ("gateway", "up", None)


def test_monitoring_client_translates_every_failure() -> None:
    """Refused connections and timeouts are PrometheusUnreachable; API errors and non-API answers
    PrometheusError naming the source; all exit 3 (a measurement not taken)."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    cases: list[tuple[Callable[[httpx.Request], httpx.Response], type[PrometheusError], str]] = [
        (refuse, PrometheusUnreachable, "unreachable"),
        (slow, PrometheusUnreachable, "did not answer"),
        (lambda r: httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}),
         PrometheusError, "bad_data: parse error"),
        (lambda r: httpx.Response(200, text="<html>grafana</html>"), PrometheusError, "is this a Prometheus"),
    ]
    for handler, kind, words in cases:
        client = PrometheusClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler),
                                  source="--prometheus-url http://127.0.0.1:9")
        with pytest.raises(kind) as caught:
            client.query("up")
        assert words in str(caught.value)
        assert "--prometheus-url" in str(caught.value)
        assert caught.value.exit_code == ExitCode.INFRASTRUCTURE
    assert _client(refuse).ready() is False


def test_monitoring_client_query_range_sends_bounds_and_step() -> None:
    """A range query sends start, end and step and reads each series' points."""
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.url.params)
        return _ok({"resultType": "matrix", "result": [{"metric": {}, "values": [[10, "0.5"], [11, "NaN"]]}]})

    [series] = _client(handler).query_range("x", 10.0, 11.0, 1.0)
    assert seen == {"query": "x", "start": "10.000", "end": "11.000", "step": "1.000"}
    assert series.points[0] == (10.0, 0.5)
    assert json.dumps(series.points[1][1]) == "NaN"
