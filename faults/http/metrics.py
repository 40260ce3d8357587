"""The proxy's Prometheus counters, kept as plain dicts and rendered as text on ``GET /metrics``.

Counting sits on the hot path of every proxied request: a dict increment costs a fraction of a
labelled ``prometheus_client`` counter (no lock, no label lookup), and the proxy is one event loop,
so nothing else touches the dicts meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ProxyMetrics:
    """Requests by route and status, applied faults by route and kind."""

    __slots__ = ("requests", "faults")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.faults: dict[tuple[str, str], int] = {}

    def request(self, route: str, status: str) -> None:
        key = (route, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def applied(self, route: str, kinds: Iterable[str]) -> None:
        for kind in kinds:
            key = (route, kind)
            self.faults[key] = self.faults.get(key, 0) + 1

    def render(self, active: Mapping[str, int]) -> str:
        """The exposition text; ``active`` is the number of faults on each route now."""
        lines = [
            "# HELP http_fault_proxy_requests_total Requests through the proxy, by route and answered status "
            "(aborted: the connection was closed without an answer).",
            "# TYPE http_fault_proxy_requests_total counter",
        ]
        lines += [f'http_fault_proxy_requests_total{{route="{_esc(r)}",status="{s}"}} {n}'
                  for (r, s), n in sorted(self.requests.items())]
        lines += [
            "# HELP http_fault_proxy_faults_applied_total Faults applied to a request, by route and kind.",
            "# TYPE http_fault_proxy_faults_applied_total counter",
        ]
        lines += [f'http_fault_proxy_faults_applied_total{{route="{_esc(r)}",kind="{k}"}} {n}'
                  for (r, k), n in sorted(self.faults.items())]
        lines += [
            "# HELP http_fault_proxy_active_faults Fault rules in force on a route.",
            "# TYPE http_fault_proxy_active_faults gauge",
        ]
        lines += [f'http_fault_proxy_active_faults{{route="{_esc(r)}"}} {n}' for r, n in sorted(active.items())]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
