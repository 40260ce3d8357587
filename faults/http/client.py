"""The HTTP fault proxy's control API client: every call bounded by a timeout, every failure our error.

    HttpFaultClient ── httpx.Client (base URL, timeout, User-Agent) ──> faults.http.server control API
         │
         └─ _call(): the one boundary. httpx errors, HTTP >= 400 and malformed answers all become
            HttpFaultProxyAPIError(operation, status, field, detail), an HttpFaultProxyError (exit 3);
            HttpFaultProxyUnreachable, its subclass, when no connection could be made at all.

The API's errors are ``{"error": ..., "field": ...}``; the field is kept on the exception and named in
its message, so a rule the server refuses says which parameter it disliked. The API is the contract
in ``faults/http/server.py`` (routes, faults, reset, metrics); this module knows nothing of specs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from core.errors import HttpFaultProxyError

DEFAULT_TIMEOUT_S = 5.0
USER_AGENT = "rag-chaos-harness/0.1 (http-fault-proxy-client)"
SERVER_NAME = "harness-http-fault-proxy"  # what GET /version names: how we tell our proxy from others


class HttpFaultProxyAPIError(HttpFaultProxyError):
    """A control API call failed; ``status`` is the HTTP status (None when no answer came) and
    ``field`` the request field the server named, if any."""

    def __init__(self, url: str, operation: str, status: int | None, detail: str, field: str | None = None) -> None:
        self.url, self.operation, self.status, self.detail, self.field = url, operation, status, detail, field
        code = f"HTTP {status}: " if status is not None else ""
        where = f" (field {field!r})" if field else ""
        super().__init__(f"HTTP fault proxy at {url}: {operation} failed: {code}{detail}{where}")


class HttpFaultProxyUnreachable(HttpFaultProxyAPIError):
    """No TCP connection to the control API could be made: nothing listens there (yet)."""


@dataclass(frozen=True)
class Rule:
    """A fault as the proxy stores it (see the contract's rule JSON)."""

    id: str
    kind: str
    match: Mapping[str, str]
    probability: float
    seed: int
    params: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            match={str(k): str(v) for k, v in (data.get("match") or {}).items()},
            probability=float(data.get("probability", 1.0)),
            seed=int(data.get("seed", 0)),
            params=dict(data.get("params") or {}),
        )


@dataclass(frozen=True)
class Route:
    """One route: the proxy listens on ``listen`` and forwards to ``upstream``, applying ``faults``."""

    name: str
    listen: str
    upstream: str
    faults: tuple[Rule, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Route:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            faults=tuple(Rule.from_json(r) for r in data.get("faults") or ()),
        )


@dataclass(frozen=True)
class RemovedFault:
    """A fault ``POST /reset`` (or a stale cleanup) removed."""

    route: str
    id: str
    kind: str


class HttpFaultClient:
    """A client for one HTTP fault proxy. Cheap to create; close it (or use ``with``) when done."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` is a test seam (``httpx.MockTransport``); ``timeout_s`` bounds every call."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # never route loopback API calls through an HTTP proxy from the environment
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpFaultClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- server ----------------------------------------------------------------------------------

    def version(self) -> tuple[str, str]:
        """``(name, version)`` of the server; the name is ``harness-http-fault-proxy`` for ours."""
        with self._parsing("read the version") as op:
            data = self._call("GET", "/version", op)
            return str(data["name"]), str(data["version"])

    def reset(self) -> list[RemovedFault]:
        """Remove every fault of every route (routes are kept); what was removed."""
        with self._parsing("reset all routes") as op:
            data = self._call("POST", "/reset", op)
            removed = (data or {}).get("removed") or []
            return [RemovedFault(str(r["route"]), str(r["id"]), str(r["kind"])) for r in removed]

    def metrics(self) -> str:
        """The Prometheus text of ``GET /metrics``."""
        response = self._send("GET", "/metrics", "read metrics")
        return response.text

    # -- routes ----------------------------------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        with self._parsing("list routes") as op:
            return {r.name: r for r in (Route.from_json(item) for item in self._call("GET", "/routes", op))}

    def put_route(self, name: str, listen: str, upstream: str) -> Route:
        """Create or replace a route (idempotent: the server re-listens only when ``listen`` changed).
        A taken listen port is an HTTP 500 with the server's reason."""
        with self._parsing(f"put route {name!r} ({listen} -> {upstream})") as op:
            data = self._call("PUT", f"/routes/{_q(name)}", op, {"listen": listen, "upstream": upstream})
            return Route.from_json(data) if isinstance(data, dict) and "name" in data else Route(name, listen, upstream)

    def delete_route(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a route, its faults and its listener; False when it did not exist and ``missing_ok``."""
        return self._delete(f"/routes/{_q(name)}", f"delete route {name!r}", missing_ok)

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, route: str, rule: Mapping[str, Any]) -> Rule:
        """Add a rule to a route; the rule as stored (with its ``id``). A refused rule names its field."""
        with self._parsing(f"add {rule.get('kind', 'a')} fault to route {route!r}") as op:
            return Rule.from_json(self._call("POST", f"/routes/{_q(route)}/faults", op, dict(rule)))

    def remove_fault(self, route: str, fault_id: str, *, missing_ok: bool = False) -> bool:
        """Remove one fault; False when it (or its route) did not exist and ``missing_ok``."""
        path = f"/routes/{_q(route)}/faults/{_q(fault_id)}"
        return self._delete(path, f"remove fault {fault_id!r} from route {route!r}", missing_ok)

    # -- the boundary ----------------------------------------------------------------------------

    def _delete(self, path: str, operation: str, missing_ok: bool) -> bool:
        try:
            self._call("DELETE", path, operation)
        except HttpFaultProxyAPIError as exc:
            if missing_ok and exc.status == 404:
                return False
            raise
        return True

    def _call(self, method: str, path: str, operation: str, body: Any = None) -> Any:
        """Send one request; the answer's JSON (None when empty), or HttpFaultProxyAPIError."""
        response = self._send(method, path, operation, body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._error(operation, response.status_code, f"answer is not JSON: {response.text[:200]!r}") from None

    def _send(self, method: str, path: str, operation: str, body: Any = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise self._error(operation, None, f"no answer within {self.timeout_s:g}s") from None
        except httpx.ConnectError as exc:
            raise HttpFaultProxyUnreachable(
                self.url, operation, None, f"cannot connect ({exc}); is the HTTP fault proxy running? 'harness up' starts it"
            ) from None
        except httpx.HTTPError as exc:
            raise self._error(operation, None, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            detail, field = _error_detail(response)
            raise self._error(operation, response.status_code, detail, field)
        return response

    @contextmanager
    def _parsing(self, operation: str) -> Iterator[str]:
        """Turns an answer of the wrong shape (a different server, a changed API) into our error."""
        try:
            yield operation
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._error(operation, None, f"unexpected answer ({type(exc).__name__}: {exc})") from None

    def _error(self, operation: str, status: int | None, detail: str, field: str | None = None) -> HttpFaultProxyAPIError:
        return HttpFaultProxyAPIError(self.url, operation, status, detail, field)


def _q(name: str) -> str:
    return quote(name, safe="")


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """The server's ``{"error": ..., "field": ...}``, or the start of whatever else it sent."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase, None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        field = data.get("field")
        return str(data["error"]), str(field) if isinstance(field, str) and field else None
    return response.text.strip()[:200], None
