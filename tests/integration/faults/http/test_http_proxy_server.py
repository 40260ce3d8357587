"""The HTTP fault proxy as a real process: transparent passthrough, broken upstreams, the control API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from bench.child_server import free_port
from core.settings import PROJECT_ROOT
from tests.integration.faults.http.http_proxy_lab import (
    DROP_SENT,
    HOST,
    JSON_BODY,
    SSE_BODY,
    Lab,
    chat_body,
    fetch,
    proxy_process,
    running_lab,
    stop_process,
)
from tests.support import wait_until

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("http-proxy")) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(lab: Lab) -> Iterator[None]:
    yield
    lab.proxy.control.post("/reset")


def raw_exchange(port: int, request: bytes, timeout_s: float = 5.0) -> bytes:
    """Send ``request`` on a fresh connection and read until the server closes it."""
    with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


# -- passthrough --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/json", "/chunked", "/gzip", "/sse"])
async def test_http_proxy_passthrough_is_byte_identical(lab: Lab, path: str) -> None:
    """With no fault, status, end-to-end headers and body bytes equal the direct answer's."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        direct = await fetch(session, lab.direct("json", path))
        proxied = await fetch(session, lab.via("json", path))
    assert proxied.error is None and direct.error is None
    assert (proxied.status, proxied.body) == (direct.status, direct.body)
    for name in ("Content-Type", "Content-Encoding", "Content-Length", "X-Upstream", "Cache-Control"):
        assert proxied.headers.get(name) == direct.headers.get(name), name
    expected = {"/json": JSON_BODY, "/chunked": JSON_BODY, "/sse": SSE_BODY}.get(path)
    assert expected is None or proxied.body == expected
    if path == "/sse":
        assert proxied.events == direct.events and len(proxied.events) == 6


async def test_http_proxy_passthrough_forwards_method_path_query_headers_and_body(lab: Lab) -> None:
    """Method, raw path and query, end-to-end headers and the body reach the upstream unchanged, and
    nothing the caller did not send (Accept-Encoding, User-Agent) is added."""
    body = "質問: 運賃は？".encode()
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding")) as session:
        answer = await fetch(session, lab.via("json", "/echo?q=%E9%81%8B&x=1%202"), "PATCH", data=body,
                             headers={"X-Trace": "abc", "Content-Type": "text/plain; charset=utf-8"})
    echo = json.loads(answer.body)
    headers = {k.lower(): v for k, v in echo["headers"]}
    assert echo["method"] == "PATCH"
    assert echo["path_qs"] == "/echo?q=%E9%81%8B&x=1%202"
    assert echo["body"] == body.decode()
    assert headers["x-trace"] == "abc" and headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-length"] == str(len(body))
    assert not {"accept-encoding", "user-agent", "accept"} & set(headers)


async def test_http_proxy_passthrough_llm_stream_has_the_same_events(lab: Lab) -> None:
    """The LLM's SSE answer comes through event by event with the same content and its [DONE]."""

    def contents(events: list[bytes]) -> list[Any]:
        out = []
        for event in events:
            data = event.decode().removeprefix("data: ").strip()
            out.append(data if data == "[DONE]" else json.loads(data)["choices"])
        return out

    async with aiohttp.ClientSession() as session:
        direct = await fetch(session, lab.direct("llm", "/v1/chat/completions"), "POST", json=chat_body())
        proxied = await fetch(session, lab.via("llm", "/v1/chat/completions"), "POST", json=chat_body())
    assert proxied.status == 200 and proxied.error is None
    assert proxied.headers["Content-Type"].startswith("text/event-stream")
    assert contents(proxied.events) == contents(direct.events)
    assert proxied.events[-1] == b"data: [DONE]\n\n" and len(proxied.events) >= 4


def test_http_proxy_upstream_down_closes_the_connection_without_an_answer(lab: Lab) -> None:
    """An unreachable upstream gives the caller an empty reply (no synthetic 502), counted as aborted."""
    dead, listen = free_port(), free_port()
    assert lab.proxy.put_route("dead", listen, dead).status_code == 200
    try:
        before = lab.proxy.metric("http_fault_proxy_requests_total", route="dead", status="aborted")
        assert raw_exchange(listen, b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        after = lab.proxy.metric("http_fault_proxy_requests_total", route="dead", status="aborted")
        assert after == before + 1
    finally:
        lab.proxy.control.delete("/routes/dead")


async def test_http_proxy_upstream_dropping_mid_answer_reaches_the_client(lab: Lab) -> None:
    """An upstream that closes mid-body makes the client's body end early with a payload error."""
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, lab.via("json", "/drop"))
    assert answer.status == 200
    assert isinstance(answer.error, aiohttp.ClientPayloadError)
    assert answer.body == JSON_BODY[:DROP_SENT]


async def test_http_proxy_client_hanging_up_cancels_the_upstream_request(lab: Lab) -> None:
    """A caller that closes its connection mid-stream makes the proxy drop the upstream call too."""
    lab.upstream.stream_abandoned.clear()
    async with aiohttp.ClientSession() as session:
        async with session.get(lab.via("json", "/slow-sse")) as response:
            assert (await response.content.readuntil(b"\n\n")).startswith(b"data: ")
            response.close()
    wait_until(lab.upstream.stream_abandoned.is_set, 5, "the upstream to see its stream abandoned")


# -- the control API ---------------------------------------------------------------------------------


def test_http_proxy_version_and_routes_describe_the_process(lab: Lab) -> None:
    """``/version`` names the proxy; ``/routes`` lists every route with its addresses and faults."""
    assert lab.proxy.control.get("/version").json() == {"name": "harness-http-fault-proxy", "version": "1"}
    routes = {r["name"]: r for r in lab.proxy.control.get("/routes").json()}
    assert routes["json"] == {"name": "json", "listen": f"{HOST}:{lab.routes['json']}",
                              "upstream": f"{HOST}:{lab.upstream.port}", "faults": []}


async def test_http_proxy_put_route_is_idempotent_and_moves_listeners(lab: Lab) -> None:
    """The same PUT twice keeps the listener and its faults; a new listen port moves the route there."""
    first, second = free_port(), free_port()
    control = lab.proxy.control
    assert lab.proxy.put_route("moving", first, lab.upstream.port).status_code == 200
    try:
        lab.proxy.add("moving", {"id": "keep-me", "kind": "http_error", "params": {"status": 503}})
        again = lab.proxy.put_route("moving", first, lab.upstream.port)
        assert again.status_code == 200 and [f["id"] for f in again.json()["faults"]] == ["keep-me"]
        async with aiohttp.ClientSession() as session:
            assert (await fetch(session, f"http://{HOST}:{first}/json")).status == 503
            moved = lab.proxy.put_route("moving", second, lab.upstream.port)
            assert moved.status_code == 200 and moved.json()["listen"] == f"{HOST}:{second}"
            assert (await fetch(session, f"http://{HOST}:{second}/json")).status == 503
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, first), timeout=2).close()
    finally:
        assert control.delete("/routes/moving").status_code == 204
    assert control.get("/routes/moving").status_code == 404
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, second), timeout=2).close()


async def test_http_proxy_put_route_with_a_new_upstream_retargets_in_place(lab: Lab) -> None:
    """Same listen address, other upstream: the listener stays and new requests go to the new upstream."""
    listen = free_port()
    assert lab.proxy.put_route("retarget", listen, lab.upstream.port).status_code == 200
    try:
        async with aiohttp.ClientSession() as session:
            assert (await fetch(session, f"http://{HOST}:{listen}/json")).body == JSON_BODY
            moved = lab.proxy.put_route("retarget", listen, lab.llm_port)
            assert moved.status_code == 200 and moved.json()["upstream"] == f"{HOST}:{lab.llm_port}"
            models = await fetch(session, f"http://{HOST}:{listen}/v1/models")
        assert models.status == 200 and json.loads(models.body)["object"] == "list"
    finally:
        lab.proxy.control.delete("/routes/retarget")


def test_http_proxy_put_route_on_a_taken_port_is_500_naming_listen(lab: Lab) -> None:
    """A listen port something else holds answers 500 with the field, and creates no route."""
    response = lab.proxy.put_route("clash", lab.upstream.port, lab.upstream.port)
    assert response.status_code == 500
    assert response.json()["field"] == "listen" and "cannot listen" in response.json()["error"]
    assert lab.proxy.control.get("/routes/clash").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"listen": "127.0.0.1:1"}, "upstream"),
    ({"listen": "10.0.0.1:8000", "upstream": "127.0.0.1:1"}, "listen"),
    ({"listen": "127.0.0.1:99999", "upstream": "127.0.0.1:1"}, "listen"),
    ({"listen": "127.0.0.1:2", "upstream": "127.0.0.1:1", "x": 1}, "x"),
])
def test_http_proxy_bad_route_is_400_naming_the_field(lab: Lab, body: dict[str, Any], field: str) -> None:
    """A route body that is not two loopback host:port addresses is refused naming the field."""
    response = lab.proxy.control.put("/routes/bad", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize(("rule", "field"), [
    ({"kind": "nope"}, "kind"),
    ({"kind": "delay", "params": {"seconds": -1}}, "params.seconds"),
    ({"kind": "rate_limit", "params": {"retry_after_format": "hours"}}, "params.retry_after_format"),
    ({"kind": "http_error", "params": {"status": 200}}, "params.status"),
    ({"kind": "delay", "probability": 2, "params": {"seconds": 1}}, "probability"),
    ({"kind": "delay", "match": {"body": "("}, "params": {"seconds": 1}}, "match.body"),
])
def test_http_proxy_bad_rule_is_400_naming_the_field(lab: Lab, rule: dict[str, Any], field: str) -> None:
    """An invalid rule is refused with a message and the JSON path of the bad field; nothing is stored."""
    response = lab.proxy.control.post("/routes/json/faults", json=rule)
    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["error"].startswith(field)
    assert lab.proxy.control.get("/routes/json").json()["faults"] == []


def test_http_proxy_body_that_is_not_json_is_400(lab: Lab) -> None:
    """A control call whose body does not parse is refused naming the body."""
    response = lab.proxy.control.post("/routes/json/faults", content=b"{kind:")
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_http_proxy_unknown_names_are_404_and_duplicate_ids_409(lab: Lab) -> None:
    """Unknown route or fault ids answer 404; a second fault with an id in use answers 409."""
    control = lab.proxy.control
    assert control.post("/routes/missing/faults", json={"kind": "malformed_json"}).status_code == 404
    assert control.delete("/routes/missing").status_code == 404
    assert control.delete("/routes/json/faults/none-such").status_code == 404
    unknown = control.get("/proxies")
    assert unknown.status_code == 404 and "/proxies" in unknown.json()["error"]
    assert control.post("/version").status_code == 405
    lab.proxy.add("json", {"id": "twice", "kind": "malformed_json"})
    duplicate = control.post("/routes/json/faults", json={"id": "twice", "kind": "malformed_json"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "id"


async def test_http_proxy_removing_a_fault_restores_passthrough_at_once(lab: Lab) -> None:
    """The request right after DELETE of a fault is forwarded again (on the same keep-alive connection)."""
    async with aiohttp.ClientSession() as session:
        rule = lab.proxy.add("json", {"kind": "http_error", "params": {"status": 500}})
        assert (await fetch(session, lab.via("json", "/json"))).status == 500
        assert lab.proxy.control.delete(f"/routes/json/faults/{rule['id']}").status_code == 204
        restored = await fetch(session, lab.via("json", "/json"))
    assert (restored.status, restored.body) == (200, JSON_BODY)


async def test_http_proxy_reset_removes_every_fault_of_every_route(lab: Lab) -> None:
    """POST /reset lists what it removed, route by route, and both routes pass through again."""
    a = lab.proxy.add("json", {"kind": "http_error", "params": {"status": 502}})
    b = lab.proxy.add("llm", {"kind": "wrong_content_type"})
    removed = lab.proxy.control.post("/reset").json()["removed"]
    assert sorted(removed, key=lambda r: r["route"]) == [
        {"route": "json", "id": a["id"], "kind": "http_error"}, {"route": "llm", "id": b["id"], "kind": "wrong_content_type"}]
    assert all(r["faults"] == [] for r in lab.proxy.control.get("/routes").json())
    async with aiohttp.ClientSession() as session:
        assert (await fetch(session, lab.via("json", "/json"))).status == 200
        answer = await fetch(session, lab.via("llm", "/v1/models"))
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")


async def test_http_proxy_metrics_count_requests_applied_faults_and_active_rules(lab: Lab) -> None:
    """Requests are counted by status, applied faults by kind, and rules in force per route."""
    metric = lab.proxy.metric
    ok0 = metric("http_fault_proxy_requests_total", route="json", status="200")
    err0 = metric("http_fault_proxy_requests_total", route="json", status="418")
    applied0 = metric("http_fault_proxy_faults_applied_total", route="json", kind="http_error")
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            await fetch(session, lab.via("json", "/json"))
        lab.proxy.add("json", {"kind": "http_error", "params": {"status": 418}})
        lab.proxy.add("json", {"kind": "http_error", "match": {"path": "^/never"}, "params": {"status": 500}})
        assert metric("http_fault_proxy_active_faults", route="json") == 2
        for _ in range(2):
            await fetch(session, lab.via("json", "/json"))
    assert metric("http_fault_proxy_requests_total", route="json", status="200") == ok0 + 3
    assert metric("http_fault_proxy_requests_total", route="json", status="418") == err0 + 2
    assert metric("http_fault_proxy_faults_applied_total", route="json", kind="http_error") == applied0 + 2
    lab.proxy.control.post("/reset")
    assert metric("http_fault_proxy_active_faults", route="json") == 0


# -- the process -----------------------------------------------------------------------------------


def test_http_proxy_refuses_a_non_loopback_host() -> None:
    """``--host 0.0.0.0`` exits 2 with one line saying loopback only, before listening anywhere."""
    result = subprocess.run([sys.executable, "-m", "faults.http.server", "--host", "0.0.0.0", "--port", "1"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "loopback" in result.stderr


def test_http_proxy_sigterm_closes_listeners_and_exits_zero(tmp_path: Path) -> None:
    """SIGTERM stops the process with exit code 0, its route's port is free afterwards, and it logged JSON."""
    listen = free_port()
    with proxy_process(tmp_path) as proxy:
        assert proxy.put_route("r", listen, free_port()).status_code == 200
        socket.create_connection((HOST, listen), timeout=2).close()
        assert stop_process(proxy.process) == 0

    def refused() -> bool:
        try:
            socket.create_connection((HOST, listen), timeout=1).close()
        except ConnectionRefusedError:
            return True
        return False

    wait_until(refused, 5, "the route's port to refuse connections")
    lines = [json.loads(line) for line in proxy.log.read_text().splitlines()]
    assert [line["message"] for line in lines][:2] == ["listening", "route put"] and lines[-1]["message"] == "stopped"
    with pytest.raises(httpx.TransportError):
        httpx.get(proxy.url + "/version", timeout=2, trust_env=False)
