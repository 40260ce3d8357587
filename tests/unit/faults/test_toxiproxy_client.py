"""The Toxiproxy client's boundary: every failure becomes a ToxiproxyError with status and message."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from core.errors import ExitCode, ToxiproxyError
from faults.toxiproxy import USER_AGENT, Toxic, ToxiproxyAPIError, ToxiproxyClient, ToxiproxyUnreachable

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> ToxiproxyClient:
    return ToxiproxyClient("http://127.0.0.1:1", timeout_s=0.5, transport=httpx.MockTransport(handler))


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_toxiproxy_client_error_body_gives_status_and_message() -> None:
    """A JSON error body (sent as text/plain by Toxiproxy) yields its status and its message."""
    body = b'{"error":"invalid toxic type","status":400}'
    with client_for(lambda r: httpx.Response(400, content=body, headers={"content-type": "text/plain"})) as client:
        with pytest.raises(ToxiproxyAPIError) as caught:
            client.add_toxic("p", Toxic("harness-x", "nope"))
    error = caught.value
    assert (error.status, error.detail) == (400, "invalid toxic type")
    assert "HTTP 400: invalid toxic type" in str(error) and "add toxic 'harness-x'" in str(error)
    assert isinstance(error, ToxiproxyError) and error.exit_code == ExitCode.INFRASTRUCTURE


@pytest.mark.parametrize(
    ("response", "status", "detail"),
    [
        (httpx.Response(500, json={"error": "listen tcp: bind: address already in use", "status": 500}), 500, "address already in use"),
        (httpx.Response(503), 503, "gave up"),
        (httpx.Response(403, text="User agent not allowed"), 403, "User agent not allowed"),
        (httpx.Response(200, text="<html>"), 200, "not JSON"),
        (httpx.Response(200, json={"unexpected": True}), None, "unexpected answer"),
        (httpx.Response(200, json=[1, 2]), None, "unexpected answer"),
    ],
    ids=["500", "503-empty", "403", "not-json", "wrong-shape", "wrong-type"],
)
def test_toxiproxy_client_bad_answers_become_toxiproxy_errors(response: httpx.Response, status: int | None, detail: str) -> None:
    """500s, empty 503s, 403s and answers of the wrong shape never escape as KeyError or JSON errors."""
    with client_for(lambda r: response) as client:
        with pytest.raises(ToxiproxyAPIError) as caught:
            client.version()
    assert caught.value.status == status
    assert detail in caught.value.detail


@pytest.mark.parametrize(
    ("exc", "expected", "detail"),
    [
        (httpx.ConnectError("refused"), ToxiproxyUnreachable, "cannot connect"),
        (httpx.ReadTimeout("slow"), ToxiproxyAPIError, "no answer within 0.5s"),
        (httpx.ConnectTimeout("slow"), ToxiproxyAPIError, "no answer within 0.5s"),
        (httpx.RemoteProtocolError("garbage"), ToxiproxyAPIError, "RemoteProtocolError"),
        (httpx.ReadError("reset"), ToxiproxyAPIError, "ReadError"),
    ],
    ids=["connect", "read-timeout", "connect-timeout", "protocol", "read"],
)
def test_toxiproxy_client_transport_errors_become_toxiproxy_errors(
    exc: Exception, expected: type[ToxiproxyAPIError], detail: str
) -> None:
    """Connection failures and timeouts map to ToxiproxyAPIError without an HTTP status."""
    with client_for(raising(exc)) as client:
        with pytest.raises(expected) as caught:
            client.reset()
    assert caught.value.status is None
    assert detail in caught.value.detail


def test_toxiproxy_client_every_httpx_error_is_translated() -> None:
    """Each concrete httpx request error class (the leaves of its tree) is caught at the boundary."""

    def leaves(cls: type[Exception]) -> list[type[Exception]]:
        subs = cls.__subclasses__()
        return [leaf for sub in subs for leaf in leaves(sub)] if subs else [cls]

    for cls in leaves(httpx.RequestError):
        with client_for(raising(cls("boom"))) as client:
            with pytest.raises(ToxiproxyAPIError):
                client.proxies()


def test_toxiproxy_client_missing_ok_turns_404_into_false() -> None:
    """Removing a toxic that is already gone is not an error when missing_ok is set."""
    not_found = httpx.Response(404, json={"error": "toxic not found", "status": 404})
    with client_for(lambda r: not_found) as client:
        assert client.remove_toxic("p", "t", missing_ok=True) is False
        with pytest.raises(ToxiproxyAPIError, match="HTTP 404: toxic not found"):
            client.remove_toxic("p", "t")


def test_toxiproxy_client_names_itself_and_quotes_names() -> None:
    """Requests carry a non-browser User-Agent, and names are escaped in the path."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with client_for(handler) as client:
        client.remove_toxic("a/b", "x y")
    assert seen[0].headers["user-agent"] == USER_AGENT
    assert seen[0].url.raw_path == b"/proxies/a%2Fb/toxics/x%20y"
