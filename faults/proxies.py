"""The Toxiproxy proxies of a topology: one per edge, created idempotently, cleaned after a crash.

    caller ──> 127.0.0.1:<edge.proxy_port>  (proxy "<caller>-to-<callee>")  ──> 127.0.0.1:<callee port>

An edge with an HTTP fault route (``http_proxy_port``) gets one more hop when the manager is built
``via_http_proxy``: Toxiproxy forwards to the HTTP fault proxy (``faults.http``), which forwards to the
callee, so the caller still meets Toxiproxy first and every TCP fault looks the same to it.

The caller is started with the proxy's address in the edge's environment variable (``routes()`` is
what ``LocalSupervisor(routes=...)`` takes), so every network fault is real TCP behaviour. Proxies
outlive fault sessions: ``harness up`` ensures them, ``harness down`` removes them, and
``clean_stale`` clears what a crashed run left behind (toxics, disabled proxies) without recreating
anything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.topology import Topology

from .network import TOXIC_PREFIX
from .toxiproxy import Proxy, ProxyConfig, ToxiproxyClient


class ProxyManager:
    """Creates, lists and removes the proxies of one topology (ports already offset)."""

    def __init__(self, client: ToxiproxyClient, topology: Topology, *, via_http_proxy: bool = False) -> None:
        """``via_http_proxy``: send the edges that have an HTTP fault route through it (the caller
        must then run the HTTP fault proxy, as ``ManagedSystem`` does)."""
        self._client = client
        self._topology = topology
        self._via_http_proxy = via_http_proxy

    def configs(self) -> list[ProxyConfig]:
        host = self._topology.host
        return [
            ProxyConfig(
                name=edge.name,
                listen=f"{host}:{edge.proxy_port}",
                upstream=f"{host}:{edge.http_proxy_port}" if self._via_http_proxy and edge.http_proxy_port is not None
                else f"{host}:{self._topology.service(edge.target).port}",
            )
            for edge in self._topology.edges
        ]

    def routes(self) -> dict[str, str]:
        """Edge name -> ``host:port`` its caller should use instead of the callee's own address."""
        return {c.name: c.listen for c in self.configs()}

    def ensure(self) -> list[Proxy]:
        """Create missing proxies and replace changed ones; an unchanged proxy is left as it is
        (clean it with ``clean_stale``). Toxiproxy answers 500 when a listen port is taken."""
        configs = self.configs()
        return self._client.populate(configs) if configs else []

    def remove(self) -> list[str]:
        """Delete this topology's proxies (closing their connections); the names that existed."""
        return [c.name for c in self.configs() if self._client.delete_proxy(c.name, missing_ok=True)]


@dataclass(frozen=True)
class StaleCleanup:
    """What ``clean_stale`` undid: ``(proxy, toxic)`` pairs removed and proxies enabled again."""

    toxics: tuple[tuple[str, str], ...]
    enabled: tuple[str, ...]

    @property
    def ours(self) -> tuple[tuple[str, str], ...]:
        """The removed toxics this harness had added (by their name prefix)."""
        return tuple(pair for pair in self.toxics if pair[1].startswith(TOXIC_PREFIX))

    @property
    def empty(self) -> bool:
        return not self.toxics and not self.enabled


def clean_stale(client: ToxiproxyClient, only: Collection[str] | None = None) -> StaleCleanup:
    """Remove every toxic and enable every proxy, for a server a crashed run left dirty; returns what
    was found. By default that is one ``POST /reset`` (toxics added between the look and the reset go
    unreported). ``only`` limits the cleanup to the named proxies, one call each, for a Toxiproxy that
    the harness reused and that may carry other people's proxies and toxics."""
    proxies = [p for p in client.proxies().values() if only is None or p.name in only]
    toxics = tuple((p.name, t.name) for p in proxies for t in p.toxics)
    disabled = tuple(p.name for p in proxies if not p.enabled)
    if only is None:
        client.reset()
    else:
        for proxy, toxic in toxics:
            client.remove_toxic(proxy, toxic, missing_ok=True)
        for proxy in disabled:
            client.enable(proxy)
    return StaleCleanup(toxics=toxics, enabled=disabled)
