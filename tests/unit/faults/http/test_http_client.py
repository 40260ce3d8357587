"""The control-API client and the injector over httpx.MockTransport: errors translated, reverts idempotent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.errors import ExitCode, FaultParameterError, HttpFaultProxyError
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.http.client import HttpFaultClient, HttpFaultProxyAPIError, HttpFaultProxyUnreachable, RemovedFault
from faults.http.injector import HttpFaultHandle, HttpFaultInjector, clean_stale
from faults.http.specs import CutAfter, HttpError
from faults.network_specs import Latency

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> HttpFaultClient:
    return HttpFaultClient("http://127.0.0.1:9", timeout_s=0.5, transport=httpx.MockTransport(handler))


class FakeProxy:
    """The control API's routes and faults in a dict, enough to check what the client sends."""

    def __init__(self) -> None:
        self.routes: dict[str, list[dict[str, Any]]] = {"gateway-to-llm": [], "gateway-to-vector-db": [], "other": []}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET" and parts == ["routes"]:
            return httpx.Response(200, json=[{"name": n, "listen": "127.0.0.1:1", "upstream": "127.0.0.1:2", "faults": f}
                                             for n, f in self.routes.items()])
        if request.method == "POST" and parts[0] == "routes" and parts[2:] == ["faults"]:
            rule = json.loads(request.content)
            self.routes[parts[1]].append(rule)
            return httpx.Response(201, json=rule)
        if request.method == "DELETE" and len(parts) == 4:
            faults = self.routes.get(parts[1], [])
            kept = [r for r in faults if r["id"] != parts[3]]
            if len(kept) == len(faults):
                return httpx.Response(404, json={"error": "no such fault", "field": "id"})
            self.routes[parts[1]] = kept
            return httpx.Response(204)
        return httpx.Response(404, json={"error": "unknown call"})


def test_http_client_error_body_is_surfaced_with_its_field() -> None:
    """A 400 ``{"error", "field"}`` becomes HttpFaultProxyAPIError with status, detail and field, exit 3."""
    client = client_for(lambda r: httpx.Response(400, json={"error": "must be > 0", "field": "params.seconds"}))
    with pytest.raises(HttpFaultProxyAPIError) as caught:
        client.add_fault("gateway-to-llm", {"kind": "delay"})
    error = caught.value
    assert (error.status, error.detail, error.field) == (400, "must be > 0", "params.seconds")
    assert "field 'params.seconds'" in str(error) and "add delay fault to route 'gateway-to-llm'" in str(error)
    assert isinstance(error, HttpFaultProxyError) and error.exit_code == ExitCode.INFRASTRUCTURE


def test_http_client_transport_failures_become_our_errors() -> None:
    """Refused connections are 'unreachable' with a hint; timeouts and other httpx errors are API errors."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def garble(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("garbage", request=request)

    with pytest.raises(HttpFaultProxyUnreachable, match="'harness up' starts it"):
        client_for(refuse).routes()
    with pytest.raises(HttpFaultProxyAPIError, match="no answer within 0.5s") as caught:
        client_for(hang).reset()
    assert caught.value.status is None
    with pytest.raises(HttpFaultProxyAPIError, match="RemoteProtocolError"):
        client_for(garble).version()


def test_http_client_wrong_shaped_answers_become_our_errors() -> None:
    """A server that is not ours (no ``name``, HTML, a list where an object belongs) is an API error."""
    with pytest.raises(HttpFaultProxyAPIError, match="unexpected answer"):
        client_for(lambda r: httpx.Response(200, json={"version": "2.12.0"})).version()
    with pytest.raises(HttpFaultProxyAPIError, match="not JSON"):
        client_for(lambda r: httpx.Response(200, text="<html>")).routes()
    with pytest.raises(HttpFaultProxyAPIError, match="HTTP 500: boom"):
        client_for(lambda r: httpx.Response(500, text="boom")).put_route("r", "127.0.0.1:1", "127.0.0.1:2")


def test_http_client_reads_version_routes_and_reset() -> None:
    """The contract's answers parse into typed values."""
    answers = {
        "/version": {"name": "harness-http-fault-proxy", "version": "1"},
        "/reset": {"removed": [{"route": "gateway-to-llm", "id": "harness-delay-1", "kind": "delay"}]},
    }
    client = client_for(lambda r: httpx.Response(200, json=answers[r.url.path]))
    assert client.version() == ("harness-http-fault-proxy", "1")
    assert client.reset() == [RemovedFault("gateway-to-llm", "harness-delay-1", "delay")]


def test_http_injector_posts_the_rule_and_revert_is_idempotent() -> None:
    """inject POSTs the rule on the edge's route; revert DELETEs it once; a vanished rule (404) is fine."""
    proxy = FakeProxy()
    injector = HttpFaultInjector(client_for(proxy), load_topology(DEFAULT_TOPOLOGY))
    assert injector.supports(CutAfter("llm", events=2)) and not injector.supports(Latency("llm", 5))
    handle = injector.inject(HttpError("llm", status=503, probability=0.5, seed=11))
    assert isinstance(handle, HttpFaultHandle) and handle.route == "gateway-to-llm"
    (rule,) = proxy.routes["gateway-to-llm"]
    assert rule["id"] == handle.rule_id and rule["seed"] == 11 and rule["params"] == {"status": 503}
    handle.revert()
    handle.revert()
    assert proxy.routes["gateway-to-llm"] == []
    assert proxy.calls.count(("DELETE", f"/routes/gateway-to-llm/faults/{handle.rule_id}")) == 1
    gone = injector.inject(CutAfter("llm", events=1))
    proxy.routes["gateway-to-llm"].clear()  # e.g. a reset or a restarted proxy got there first
    gone.revert()
    assert gone.reverted


def test_http_injector_refuses_before_sending() -> None:
    """A bad parameter or a target without a route raises before any call reaches the proxy."""
    proxy = FakeProxy()
    injector = HttpFaultInjector(client_for(proxy), load_topology(DEFAULT_TOPOLOGY))
    with pytest.raises(FaultParameterError, match="'status'"):
        injector.inject(HttpError("llm", status=700))
    with pytest.raises(FaultParameterError, match="'target'"):
        injector.inject(HttpError("nowhere", status=503))
    assert proxy.calls == []


def test_http_clean_stale_removes_only_the_named_routes_faults() -> None:
    """Every fault of the named routes goes (ours or not); another route's faults stay; each is reported."""
    proxy = FakeProxy()
    proxy.routes["gateway-to-llm"] = [{"id": "harness-delay-a", "kind": "delay"}, {"id": "someone", "kind": "truncate"}]
    proxy.routes["other"] = [{"id": "theirs", "kind": "delay"}]
    removed = clean_stale(client_for(proxy), only=["gateway-to-llm", "gateway-to-vector-db"])
    assert removed == [RemovedFault("gateway-to-llm", "harness-delay-a", "delay"),
                       RemovedFault("gateway-to-llm", "someone", "truncate")]
    assert proxy.routes["gateway-to-llm"] == [] and proxy.routes["other"] == [{"id": "theirs", "kind": "delay"}]
