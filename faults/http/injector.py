"""Putting HTTP faults in place on the fault proxy's routes, taking them out, and cleaning after a crash.

    inject(spec)   validate -> resolve the edge (it must have an HTTP route) -> POST the rule
    revert()       DELETE exactly that rule; 404 (already gone: reset, proxy restarted) is fine
    clean_stale()  every fault of the named routes, ours or not, for a proxy a crashed run left dirty

A route is named after its edge (``gateway-to-llm``), like the Toxiproxy proxy in front of it.
"""

from __future__ import annotations

from collections.abc import Collection

from core.topology import Topology

from ..base import FaultHandle, FaultSpec
from .client import HttpFaultClient, RemovedFault
from .specs import HttpFault, resolve_route


class HttpFaultHandle(FaultHandle):
    """One rule on one route; reverting removes exactly that rule."""

    def __init__(self, spec: HttpFault, client: HttpFaultClient, route: str, rule_id: str, seed: int) -> None:
        super().__init__(spec)
        self.route, self.rule_id, self.seed = route, rule_id, seed
        self._client = client

    def _revert(self) -> None:
        self._client.remove_fault(self.route, self.rule_id, missing_ok=True)


class HttpFaultInjector:
    """Puts HTTP faults in place through the fault proxy's control API, on a topology's routes."""

    def __init__(self, client: HttpFaultClient, topology: Topology) -> None:
        self._client = client
        self._topology = topology

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, HttpFault)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        """Validate and resolve the spec (nothing sent yet), then add its rule."""
        if not isinstance(spec, HttpFault):
            raise TypeError(f"not an HTTP fault: {spec!r}")
        spec.validate()
        route = resolve_route(self._topology, spec).name
        rule = spec.to_rule()
        stored = self._client.add_fault(route, rule)
        return HttpFaultHandle(spec, self._client, route, stored.id or str(rule["id"]), int(rule["seed"]))


def clean_stale(client: HttpFaultClient, only: Collection[str] | None = None) -> list[RemovedFault]:
    """Remove every fault of the routes named in ``only`` (default: one ``POST /reset`` for all routes);
    what was removed. Per route, so a proxy shared with others keeps their routes' faults. Routes the
    proxy does not have are skipped."""
    if only is None:
        return client.reset()
    removed: list[RemovedFault] = []
    for route in client.routes().values():
        if route.name not in only:
            continue
        for rule in route.faults:
            if client.remove_fault(route.name, rule.id, missing_ok=True):
                removed.append(RemovedFault(route.name, rule.id, rule.kind))
    return removed
