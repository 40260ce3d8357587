"""The JSON API client base: every httpx failure, refusal and malformed answer becomes the caller's error."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from core.json_api import JsonApiClient, error_body, path_segment

URL = "http://127.0.0.1:9"


class DemoError(Exception):
    """The caller's own error class, as a client passes it in."""

    def __init__(self, url: str, operation: str, status: int | None, detail: str) -> None:
        self.url, self.operation, self.status, self.detail = url, operation, status, detail
        super().__init__(f"{url}: {operation}: {status}: {detail}")


class DemoUnreachable(DemoError):
    """Nothing listens."""


class DemoClient(JsonApiClient[DemoError]):
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__(
            URL + "/", timeout_s=0.5, user_agent="demo/1", error=DemoError, unreachable=DemoUnreachable,
            unreachable_hint="start it", transport=httpx.MockTransport(handler),
        )

    def get(self, path: str) -> object:
        return self._call("GET", path, "read it")

    def delete(self, path: str, missing_ok: bool) -> bool:
        return self._delete(path, "delete it", missing_ok)


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def answering(status: int, content: bytes = b"") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=content)


@pytest.mark.parametrize(
    ("handler", "error", "status", "detail"),
    [
        (raising(httpx.ReadTimeout("slow")), DemoError, None, "no answer within 0.5s"),
        (raising(httpx.ConnectError("refused")), DemoUnreachable, None, "cannot connect (refused); start it"),
        (raising(httpx.RemoteProtocolError("odd")), DemoError, None, "RemoteProtocolError: odd"),
        (answering(409, b'{"error": "taken", "field": "name"}'), DemoError, 409, "taken"),
        (answering(500, b"boom"), DemoError, 500, "boom"),
        (answering(502), DemoError, 502, "Bad Gateway"),
        (answering(200, b"<html>"), DemoError, 200, "answer is not JSON: '<html>'"),
    ],
)
def test_json_api_failure_becomes_the_callers_error(
    handler: Callable[[httpx.Request], httpx.Response], error: type[DemoError], status: int | None, detail: str
) -> None:
    """Each kind of failure raises the client's class with the URL, the operation, the status and why."""
    with DemoClient(handler) as client, pytest.raises(DemoError) as caught:
        client.get("/thing")
    assert type(caught.value) is error
    assert (caught.value.url, caught.value.operation, caught.value.status, caught.value.detail) == (
        URL, "read it", status, detail,
    )


def test_json_api_answer_is_decoded_and_empty_is_none() -> None:
    """A JSON answer comes back decoded; an empty one is None."""
    with DemoClient(lambda request: httpx.Response(200, json={"a": [1]})) as client:
        assert client.get("/thing") == {"a": [1]}
    with DemoClient(answering(204)) as client:
        assert client.get("/thing") is None


def test_json_api_sends_its_user_agent_and_ignores_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request names the client, and an HTTP proxy from the environment is never used."""
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with DemoClient(record) as client:
        client.get("/thing")
        assert client._http.trust_env is False
    assert seen[0].headers["User-Agent"] == "demo/1"
    assert str(seen[0].url) == URL + "/thing"


def test_json_api_delete_missing_is_false_only_when_allowed() -> None:
    """A 404 on delete is False with ``missing_ok`` and the caller's error without it."""
    with DemoClient(answering(404)) as client:
        assert client.delete("/thing", missing_ok=True) is False
        with pytest.raises(DemoError) as caught:
            client.delete("/thing", missing_ok=False)
        assert caught.value.status == 404
    with DemoClient(answering(204)) as client:
        assert client.delete("/thing", missing_ok=True) is True


def test_json_api_wrong_shape_while_parsing_is_the_callers_error() -> None:
    """A KeyError (or similar) while reading an answer is reported as an unexpected answer."""
    with DemoClient(answering(204)) as client, pytest.raises(DemoError, match="unexpected answer"):
        with client._parsing("read it"):
            raise KeyError("version")


def test_json_api_error_body_and_path_segment() -> None:
    """The common error body is read; names are quoted as one path segment."""
    assert error_body(httpx.Response(400, json={"error": "bad", "field": "x"})) == ("bad", {"error": "bad", "field": "x"})
    assert error_body(httpx.Response(400, json=["bad"])) == ('["bad"]', {})
    assert path_segment("a/b c") == "a%2Fb%20c"
