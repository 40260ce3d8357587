"""The Toxiproxy proxies of a topology: one per edge, created idempotently, cleaned after a crash.

    caller ──> 127.0.0.1:<edge.proxy_port>  (proxy "<caller>-to-<callee>")  ──> 127.0.0.1:<callee port>

The caller is started with the proxy's address in the edge's environment variable (``routes()`` is
what ``LocalSupervisor(routes=...)`` takes), so every network fault is real TCP behaviour. Proxies
outlive fault sessions: ``harness up`` ensures them, ``harness down`` removes them, and
``clean_stale`` clears what a crashed run left behind (toxics, disabled proxies) without recreating
anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.topology import Topology

from .network import TOXIC_PREFIX
from .toxiproxy import Proxy, ProxyConfig, ToxiproxyClient


class ProxyManager:
    """Creates, lists and removes the proxies of one topology (ports already offset)."""

    def __init__(self, client: ToxiproxyClient, topology: Topology) -> None:
        self._client = client
        self._topology = topology

    def configs(self) -> list[ProxyConfig]:
        host = self._topology.host
        return [
            ProxyConfig(
                name=edge.name,
                listen=f"{host}:{edge.proxy_port}",
                upstream=f"{host}:{self._topology.service(edge.target).port}",
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


def clean_stale(client: ToxiproxyClient) -> StaleCleanup:
    """Remove every toxic and enable every proxy (``POST /reset``), for a server a crashed run left
    dirty; returns what was found. Toxics added between the look and the reset go unreported."""
    proxies = client.proxies()
    toxics = tuple((p.name, t.name) for p in proxies.values() for t in p.toxics)
    disabled = tuple(p.name for p in proxies.values() if not p.enabled)
    client.reset()
    return StaleCleanup(toxics=toxics, enabled=disabled)
