"""The HTTP fault proxy's control API client: every call bounded by a timeout, every failure our error.

    HttpFaultClient ── core.json_api.JsonApiClient (base URL, timeout, User-Agent) ──> faults.http.server control API
         │
         └─ the one boundary (``JsonApiClient``): httpx errors, HTTP >= 400 and malformed answers all become
            HttpFaultProxyAPIError(operation, status, field, detail), an HttpFaultProxyError (exit 3);
            HttpFaultProxyUnreachable, its subclass, when no connection could be made at all.

The API's errors are ``{"error": ..., "field": ...}``; the field is kept on the exception and named in
its message, so a rule the server refuses says which parameter it disliked. The API is the contract
in ``faults/http/server.py`` (routes, faults, reset, metrics); this module knows nothing of specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import HttpFaultProxyError
from core.json_api import JsonApiClient, error_body, path_segment

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


class HttpFaultClient(JsonApiClient[HttpFaultProxyAPIError]):
    """A client for one HTTP fault proxy. Cheap to create; close it (or use ``with``) when done."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` is a test seam (``httpx.MockTransport``); ``timeout_s`` bounds every call."""
        super().__init__(
            url,
            timeout_s=timeout_s,
            user_agent=USER_AGENT,
            error=HttpFaultProxyAPIError,
            unreachable=HttpFaultProxyUnreachable,
            unreachable_hint="is the HTTP fault proxy running? 'harness up' starts it",
            transport=transport,
        )

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
            data = self._call("PUT", f"/routes/{path_segment(name)}", op, {"listen": listen, "upstream": upstream})
            return Route.from_json(data) if isinstance(data, dict) and "name" in data else Route(name, listen, upstream)

    def delete_route(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a route, its faults and its listener; False when it did not exist and ``missing_ok``."""
        return self._delete(f"/routes/{path_segment(name)}", f"delete route {name!r}", missing_ok)

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, route: str, rule: Mapping[str, Any]) -> Rule:
        """Add a rule to a route; the rule as stored (with its ``id``). A refused rule names its field."""
        with self._parsing(f"add {rule.get('kind', 'a')} fault to route {route!r}") as op:
            return Rule.from_json(self._call("POST", f"/routes/{path_segment(route)}/faults", op, dict(rule)))

    def remove_fault(self, route: str, fault_id: str, *, missing_ok: bool = False) -> bool:
        """Remove one fault; False when it (or its route) did not exist and ``missing_ok``."""
        path = f"/routes/{path_segment(route)}/faults/{path_segment(fault_id)}"
        return self._delete(path, f"remove fault {fault_id!r} from route {route!r}", missing_ok)

    # -- the boundary ----------------------------------------------------------------------------

    def _refusal(self, operation: str, response: httpx.Response) -> HttpFaultProxyAPIError:
        """The server's ``{"error": ..., "field": ...}``, the field kept, or the start of whatever else it sent."""
        detail, data = error_body(response)
        field = data.get("field")
        return HttpFaultProxyAPIError(
            self.url, operation, response.status_code, detail, field if isinstance(field, str) and field else None
        )
