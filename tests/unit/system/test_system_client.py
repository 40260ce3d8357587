"""The system under test's client: typed answers, timeouts from settings, every httpx error translated."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from core.errors import ExitCode, MeasurementError, SystemUnreachable
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, ModeSource, Probes, load_topology
from system.client import ProbeKind, SystemClient, SystemTimeouts

BASE = "http://127.0.0.1:9"
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, mode: ModeSource | None = None, probes: Probes | None = None,
           timeouts: SystemTimeouts | None = None) -> SystemClient:
    return SystemClient(BASE, mode=mode, probes=probes, timeouts=timeouts, transport=httpx.MockTransport(handler))


def answering(status: int = 200, body: object = None, text: str | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return handle


def raising(error: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


def _httpx_errors() -> list[type[Exception]]:
    """Every exception class httpx exports that a request can raise (its whole HTTPError tree and InvalidURL)."""
    found = [obj for obj in vars(httpx).values() if isinstance(obj, type) and issubclass(obj, httpx.HTTPError)]
    return sorted({*found, httpx.InvalidURL}, key=lambda c: c.__name__)


def _instance(kind: type[Exception]) -> Exception:
    request = httpx.Request("GET", BASE)
    if kind is httpx.HTTPStatusError:
        return httpx.HTTPStatusError("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(kind, httpx.RequestError):
        return kind("boom", request=request)
    return kind("boom")


def test_client_status_reads_mode_breakers_and_transitions() -> None:
    """/status gives the mode from the configured field, each breaker, and well-formed transitions only."""
    body = {"state": "degraded-no-context", "dependencies": {
        "vector-db": {"breaker": "open", "transitions": [
            {"from": "closed", "to": "open", "at": "2026-01-01T00:00:00Z"},
            {"from": "open", "to": "half-open", "at": "not a time"}, "junk"]},
        "llm": {"breaker": 3}, "cache": "junk"}}
    status = client(answering(body=body), mode=ModeSource("/status", "state")).status()
    assert status.mode == "degraded-no-context"
    assert status.breakers == {"vector-db": "open"}
    [transition] = status.transitions
    assert (transition.dependency, transition.from_state, transition.to_state) == ("vector-db", "closed", "open")
    assert transition.at == "2026-01-01T00:00:00Z" and transition.wall == 1767225600.0


def test_client_status_with_an_error_code_still_reports_the_mode() -> None:
    """A 503 whose body names the mode is a status like any other: the status code is not judged."""
    assert client(answering(503, {"mode": "static-only"})).status().mode == "static-only"


def test_client_status_not_json_is_unreachable_with_the_decoder_error_name() -> None:
    """A body that is not JSON raises SystemUnreachable whose reason is the decoder's error (exit 3)."""
    with pytest.raises(SystemUnreachable) as info:
        client(answering(text="<html>")).status()
    assert info.value.reason == "JSONDecodeError" and info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert info.value.url == BASE + "/status"


def test_client_status_of_a_json_list_is_a_bad_status_body() -> None:
    """JSON that is not an object raises SystemUnreachable with reason BadStatusBody."""
    with pytest.raises(SystemUnreachable, match="BadStatusBody"):
        client(answering(body=[1, 2])).status()


@pytest.mark.parametrize("kind", _httpx_errors(), ids=lambda k: k.__name__)
def test_client_every_httpx_error_becomes_system_unreachable(kind: type[Exception]) -> None:
    """Each httpx exception type raised by a call is translated into SystemUnreachable naming that type."""
    with pytest.raises(SystemUnreachable) as info:
        client(raising(_instance(kind))).status()
    assert info.value.reason == kind.__name__
    assert isinstance(info.value.__cause__, kind)


@pytest.mark.parametrize("kind", _httpx_errors(), ids=lambda k: k.__name__)
def test_client_every_httpx_error_on_metrics_becomes_a_measurement_error(kind: type[Exception]) -> None:
    """Each httpx exception type on /metrics is a MeasurementError naming the URL and the error type."""
    with pytest.raises(MeasurementError, match=rf"cannot read {BASE}/metrics: {kind.__name__}: boom"):
        client(raising(_instance(kind))).metrics()


def test_client_error_tree_covers_every_httpx_exception_class() -> None:
    """The translated set is httpx's whole public exception tree, so a new httpx error class is noticed."""
    exported = {name for name in httpx.__all__ if isinstance(getattr(httpx, name), type)
                and issubclass(getattr(httpx, name), Exception)}
    stream_errors = {"StreamError", "StreamConsumed", "StreamClosed", "ResponseNotRead", "RequestNotRead"}
    other = {"CookieConflict"}  # raised by cookie look-ups and by misuse of a body, never by a request we make
    assert exported - stream_errors - other == {k.__name__ for k in _httpx_errors()}


def test_client_metrics_returns_the_text_and_refuses_an_error_status() -> None:
    """/metrics gives its Prometheus text on 200; any other status is a MeasurementError naming it."""
    assert client(answering(text="x_total 1\n")).metrics() == "x_total 1\n"
    with pytest.raises(MeasurementError, match="HTTP 503"):
        client(answering(503, text="starting")).metrics()


def test_client_chat_posts_the_question_and_keeps_any_status() -> None:
    """/chat posts message and user_id with the given headers; a 500 is an answer, a non-object body is empty."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, text="oops")

    answer = client(handle).chat("hello", headers={"Accept-Language": "en"})
    assert (answer.status, dict(answer.body), answer.mode) == (500, {}, None)
    assert json.loads(seen[0].content) == {"message": "hello", "user_id": "harness"}
    assert seen[0].url.path == "/chat" and seen[0].headers["Accept-Language"] == "en"


def test_client_chat_answer_carries_the_mode() -> None:
    """A JSON answer's fields are kept and its mode is read from them."""
    answer = client(answering(body={"mode": "normal", "notice": None})).chat("hi", "bench")
    assert answer.mode == "normal" and answer.body["notice"] is None


def test_client_chat_without_an_answer_is_unreachable() -> None:
    """A /chat call that gets no answer raises SystemUnreachable."""
    with pytest.raises(SystemUnreachable, match="ConnectError"):
        client(raising(httpx.ConnectError("refused"))).chat("hi")


def test_client_probe_uses_the_topology_paths_and_never_raises() -> None:
    """Probes go to the configured paths; 2xx passes, another status fails, no answer fails with its reason."""
    probes = Probes(live="/l", ready="/r", startup="/s")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/s":
            raise httpx.ConnectTimeout("slow")
        return httpx.Response(204 if request.url.path == "/l" else 503)

    c = client(handle, probes=probes)
    live, ready, startup = c.probe(ProbeKind.LIVE), c.probe("ready"), c.probe(ProbeKind.STARTUP)
    assert (live.passed, live.status, live.url) == (True, 204, BASE + "/l")
    assert (ready.passed, ready.status) == (False, 503)
    assert (startup.passed, startup.status, startup.error) == (False, None, "ConnectTimeout")


def test_client_calls_are_bounded_by_their_own_timeouts() -> None:
    """Each kind of call carries its own timeout: status, poll, chat, metrics and probe."""
    seen: dict[str, float] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.setdefault(request.url.path, request.extensions["timeout"]["read"])
        return httpx.Response(200, json={"mode": "normal"})

    timeouts = SystemTimeouts(status_s=1.5, poll_s=0.25, chat_s=7.0, metrics_s=3.0, probe_s=0.5)
    c = client(handle, timeouts=timeouts, mode=ModeSource("/poll"))
    c.poll()
    c.chat("hi")
    c.metrics()
    c.probe("live")
    c.mode = ModeSource("/status")
    c.status()
    assert seen == {"/poll": 0.25, "/chat": 7.0, "/metrics": 3.0, "/health/live": 0.5, "/status": 1.5}


def test_client_for_entry_takes_the_entry_service_and_timeouts_from_settings(tmp_path: Path) -> None:
    """for_entry addresses the topology's entry service (offset applied) with the settings' timeouts."""
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(7)
    settings = replace(HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path), chat_timeout_s=3.0,
                       status_poll_timeout_s=0.05)
    c = SystemClient.for_entry(topology, settings)
    entry = topology.service(topology.entry)
    assert c.base_url == f"http://{topology.host}:{entry.port}"
    assert c.status_url == c.base_url + topology.mode.status_path
    assert (c.timeouts.chat_s, c.timeouts.poll_s) == (3.0, 0.05)
    assert c.probes == entry.probes
    c.close()
