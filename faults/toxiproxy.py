"""The Toxiproxy HTTP API client: every call bounded by a timeout, every failure a ``ToxiproxyError``.

Why not toxiproxy-python, the client the design card names? Version 0.1.1 was read before deciding:
its host and port are class attributes of ``APIConsumer``, so two servers
in one process (two runs, a test beside a user's run) would share one address; its ``requests`` calls
have no timeout, and Toxiproxy's API can hang for 25 s under heavy traffic before it answers 503; only
400/404/409 raise, so a 500 ("address already in use") or an empty 503 surfaces as a ``KeyError`` or
a JSON error far from the cause; it cannot update a toxic, returns ``version()`` as raw bytes, and its
``populate()`` is client-side and recreates proxies instead of using ``POST /populate``. Wrapping it
would mean re-implementing all of that around it, so the real path talks to the documented HTTP API
directly with httpx (already a harness dependency) and toxiproxy-python is not imported.

    ToxiproxyClient ── core.json_api.JsonApiClient (base URL, timeout, User-Agent) ──> toxiproxy-server API
         │
         └─ the one boundary (``JsonApiClient``): httpx errors, HTTP >= 400 and malformed answers all
            become ToxiproxyAPIError(operation, status, detail), a ToxiproxyError (exit code 3);
            ToxiproxyUnreachable, its subclass, when no connection could be made at all.

Toxiproxy refuses browser-like User-Agents with 403, so the client always names itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from core.errors import ToxiproxyError
from core.json_api import JsonApiClient, error_body, path_segment

Stream = Literal["upstream", "downstream"]
DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_TIMEOUT_S = 5.0
USER_AGENT = "rag-chaos-harness/0.1 (toxiproxy-api-client)"


class ToxiproxyAPIError(ToxiproxyError):
    """A Toxiproxy API call failed; ``status`` is the HTTP status, or None when no answer came."""

    def __init__(self, url: str, operation: str, status: int | None, detail: str) -> None:
        self.url, self.operation, self.status, self.detail = url, operation, status, detail
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"Toxiproxy at {url}: {operation} failed: {code}{detail}")


class ToxiproxyUnreachable(ToxiproxyAPIError):
    """No TCP connection to the API could be made: nothing listens there (yet)."""


@dataclass(frozen=True)
class Toxic:
    """One toxic as the API describes it. Attribute units depend on the type (see facts.md)."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, data: Any) -> Toxic:
        stream = data["stream"]
        if stream not in ("upstream", "downstream"):
            raise ValueError(f"unknown stream {stream!r}")
        attributes = {str(k): int(v) for k, v in (data.get("attributes") or {}).items()}
        return cls(str(data["name"]), str(data["type"]), stream, float(data["toxicity"]), attributes)


@dataclass(frozen=True)
class ProxyConfig:
    """What ``populate`` asks for: a proxy listening on ``listen`` that forwards to ``upstream``."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled}


@dataclass(frozen=True)
class Proxy:
    """A proxy as the server reports it, with its toxics."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Proxy:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or ()),
        )


class ToxiproxyClient(JsonApiClient[ToxiproxyAPIError]):
    """A client for one Toxiproxy server. Cheap to create; close it (or use ``with``) when done."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` is a test seam (``httpx.MockTransport``); ``timeout_s`` bounds every call."""
        super().__init__(
            url,
            timeout_s=timeout_s,
            user_agent=USER_AGENT,
            error=ToxiproxyAPIError,
            unreachable=ToxiproxyUnreachable,
            unreachable_hint="is toxiproxy-server running? 'harness up' starts it",
            transport=transport,
        )

    # -- server ----------------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version, e.g. ``2.12.0`` (``git`` when built without the version flag)."""
        with self._parsing("read the version") as op:
            data = self._call("GET", "/version", op)
            return str(data["version"])

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic (proxies are kept)."""
        self._call("POST", "/reset", "reset all proxies")

    # -- proxies ---------------------------------------------------------------------------------

    def proxies(self) -> dict[str, Proxy]:
        with self._parsing("list proxies") as op:
            data = self._call("GET", "/proxies", op)
            return {str(name): Proxy.from_json(p) for name, p in data.items()}

    def proxy(self, name: str) -> Proxy:
        with self._parsing(f"read proxy {name!r}") as op:
            return Proxy.from_json(self._call("GET", f"/proxies/{path_segment(name)}", op))

    def populate(self, configs: Sequence[ProxyConfig]) -> list[Proxy]:
        """Create-or-replace: a proxy whose listen and upstream are unchanged is kept as it is,
        with its toxics and enabled state; one that differs is replaced."""
        names = ", ".join(c.name for c in configs)
        with self._parsing(f"populate proxies ({names})") as op:
            data = self._call("POST", "/populate", op, [c.to_json() for c in configs])
            return [Proxy.from_json(p) for p in data["proxies"]]

    def delete_proxy(self, name: str, *, missing_ok: bool = False) -> bool:
        """Delete a proxy; False when it did not exist and ``missing_ok``."""
        return self._delete(f"/proxies/{path_segment(name)}", f"delete proxy {name!r}", missing_ok)

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Disabling closes the listener *and* every open connection; enabling listens again."""
        verb = "enable" if enabled else "disable"
        with self._parsing(f"{verb} proxy {name!r}") as op:
            return Proxy.from_json(self._call("PATCH", f"/proxies/{path_segment(name)}", op, {"enabled": enabled}))

    def enable(self, name: str) -> Proxy:
        return self.set_enabled(name, True)

    def disable(self, name: str) -> Proxy:
        return self.set_enabled(name, False)

    # -- toxics ----------------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[Toxic]:
        with self._parsing(f"list toxics of proxy {proxy!r}") as op:
            return [Toxic.from_json(t) for t in self._call("GET", f"/proxies/{path_segment(proxy)}/toxics", op)]

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        with self._parsing(f"add toxic {toxic.name!r} to proxy {proxy!r}") as op:
            return Toxic.from_json(self._call("POST", f"/proxies/{path_segment(proxy)}/toxics", op, toxic.to_json()))

    def update_toxic(
        self, proxy: str, name: str, *, attributes: Mapping[str, int] | None = None, toxicity: float | None = None
    ) -> Toxic:
        """Change a live toxic in place (its connections keep flowing); unnamed fields keep their values."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        with self._parsing(f"update toxic {name!r} of proxy {proxy!r}") as op:
            path = f"/proxies/{path_segment(proxy)}/toxics/{path_segment(name)}"
            return Toxic.from_json(self._call("PATCH", path, op, body))

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a toxic; False when it (or its proxy) did not exist and ``missing_ok``."""
        path = f"/proxies/{path_segment(proxy)}/toxics/{path_segment(name)}"
        return self._delete(path, f"remove toxic {name!r} from proxy {proxy!r}", missing_ok)

    # -- the boundary ----------------------------------------------------------------------------

    def _refusal(self, operation: str, response: httpx.Response) -> ToxiproxyAPIError:
        """Toxiproxy's own message: error bodies are JSON ``{"error": ..., "status": ...}`` sent as text."""
        if response.status_code == 503 and not response.content:
            detail = "the server gave up on the call (it hangs under heavy traffic; try again)"
        else:
            detail = error_body(response)[0]
        return self._error(operation, response.status_code, detail)
