"""One small base for the clients of the JSON HTTP APIs the harness drives (Toxiproxy, the HTTP fault proxy).

    XClient(JsonApiClient) ── httpx.Client (base URL, timeout, User-Agent) ──> the server's JSON API
         │
         └─ _send()/_call(): the one boundary. httpx errors, HTTP >= 400 and malformed answers all
            become the caller's own error class, which each client passes in:
                error(url, operation, status, detail)         status None when no answer came
                unreachable(url, operation, None, detail)     no TCP connection could be made at all
            so nothing from httpx escapes a client, and every message names the server and the call.

The HTTP client never reads proxy settings from the environment (``trust_env=False``): these APIs are
on loopback, and an ``HTTP_PROXY`` meant for the internet must not swallow them. A server's error
bodies are read by ``_refusal``, which a client overrides when its server says more than the common
``{"error": "..."}`` (see ``error_body``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import quote

import httpx

E = TypeVar("E", bound=Exception)
E_co = TypeVar("E_co", bound=Exception, covariant=True)


class ErrorClass(Protocol[E_co]):
    """How a client's error is built: where the call went, what it did, the HTTP status (None when no
    answer came) and why. The client's exception classes satisfy it."""

    def __call__(self, url: str, operation: str, status: int | None, detail: str, /) -> E_co: ...


class JsonApiClient(Generic[E]):
    """A client for one JSON API server. Cheap to create; close it (or use ``with``) when done."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        user_agent: str,
        error: ErrorClass[E],
        unreachable: ErrorClass[E],
        unreachable_hint: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` is a test seam (``httpx.MockTransport``); ``timeout_s`` bounds every call;
        ``unreachable_hint`` ends the message when nothing listens (how to start the server)."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._error_class = error
        self._unreachable_class = unreachable
        self._unreachable_hint = unreachable_hint
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"User-Agent": user_agent},
            trust_env=False,  # never route loopback API calls through an HTTP proxy from the environment
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the boundary ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, operation: str, body: Any = None) -> Any:
        """Send one request; the answer's JSON (None when empty), or the client's error."""
        return self._decode(operation, self._send(method, path, operation, body))

    def _send(self, method: str, path: str, operation: str, body: Any = None) -> httpx.Response:
        """Send one request; the answer when its status is below 400, or the client's error."""
        response = self._request(method, path, operation, body)
        if response.status_code >= 400:
            raise self._refusal(operation, response)
        return response

    def _delete(self, path: str, operation: str, missing_ok: bool) -> bool:
        """Delete a resource; False when it did not exist (404) and ``missing_ok``."""
        response = self._request("DELETE", path, operation)
        if missing_ok and response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise self._refusal(operation, response)
        self._decode(operation, response)
        return True

    def _request(self, method: str, path: str, operation: str, body: Any = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise self._error(operation, None, f"no answer within {self.timeout_s:g}s") from None
        except httpx.ConnectError as exc:
            detail = f"cannot connect ({exc}); {self._unreachable_hint}"
            raise self._unreachable_class(self.url, operation, None, detail) from None
        except httpx.HTTPError as exc:
            raise self._error(operation, None, f"{type(exc).__name__}: {exc}") from None

    def _decode(self, operation: str, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._error(operation, response.status_code, f"answer is not JSON: {response.text[:200]!r}") from None

    @contextmanager
    def _parsing(self, operation: str) -> Iterator[str]:
        """Turns an answer of the wrong shape (a different server, a changed API) into our error."""
        try:
            yield operation
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._error(operation, None, f"unexpected answer ({type(exc).__name__}: {exc})") from None

    def _refusal(self, operation: str, response: httpx.Response) -> E:
        """The error for an answer with status >= 400; override to read more of the server's body."""
        return self._error(operation, response.status_code, error_body(response)[0])

    def _error(self, operation: str, status: int | None, detail: str) -> E:
        return self._error_class(self.url, operation, status, detail)


def path_segment(name: str) -> str:
    """A name quoted for one segment of a URL path (a ``/`` in it stays inside the segment)."""
    return quote(name, safe="")


def error_body(response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
    """The server's message from an ``{"error": ..., ...}`` body and that whole object; for any other
    body the start of its text (or the status's reason when empty) and no object."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase, {}
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"]), data
    return response.text.strip()[:200] or response.reason_phrase, {}
