"""The HTTP fault proxy of one running system: started or reused, its routes ensured, cleaned, stopped.

    ensure()   proxy answering -> remove every fault of this topology's routes (a crashed run's)
               else            -> start it (faults.http.lifecycle), record its PID in the state dir
               then PUT one route per edge with ``http_proxy_port``: listen there, forward to the callee
    release()  remove this topology's faults and routes (a reused proxy keeps everyone else's)
    stop()     stop the recorded process by PID, also when the rest of ``down`` failed

``system.managed.ManagedSystem`` drives this next to Toxiproxy; Toxiproxy's proxy for such an edge
forwards to the route's listen address, so the chain is caller -> Toxiproxy -> this proxy -> callee.
A topology without HTTP routes has nothing to run: every method is then a no-op.
"""

from __future__ import annotations

import sys

from core.errors import HttpFaultProxyError
from core.ports import port_is_free
from core.processes import ProcessRecord, is_running
from core.settings import HarnessSettings
from core.topology import Edge, Topology

from .client import HttpFaultClient, RemovedFault, Route
from .injector import HttpFaultInjector, clean_stale
from .lifecycle import SERVICE_NAME, ProxyConfig, RunningProxy, control_port, probe, start_proxy, state_file, stop_proxy


class HttpFaultProxy:
    """The fault proxy serving one topology (ports already offset)."""

    def __init__(self, topology: Topology, settings: HarnessSettings) -> None:
        self.topology = topology
        self.settings = settings
        self.edges: tuple[Edge, ...] = tuple(e for e in topology.edges if e.http_proxy_port is not None)
        self.url = f"http://{topology.host}:{control_port(settings.port_offset)}"
        self.client = HttpFaultClient(self.url)
        self._state = state_file(settings.state_dir)
        self._running: RunningProxy | None = None  # the process this object started, kept to reap it

    @property
    def enabled(self) -> bool:
        """Whether any edge has an HTTP fault route (else nothing is started)."""
        return bool(self.edges)

    def route_names(self) -> list[str]:
        return [edge.name for edge in self.edges]

    def wanted_routes(self) -> dict[str, tuple[str, str]]:
        """Route name -> (listen, upstream) as this topology wants them."""
        host = self.topology.host
        return {e.name: (f"{host}:{e.http_proxy_port}", f"{host}:{self.topology.service(e.target).port}")
                for e in self.edges}

    def injector(self) -> HttpFaultInjector:
        return HttpFaultInjector(self.client, self.topology)

    def record(self) -> ProcessRecord | None:
        """The recorded proxy process, if the harness started one that still runs."""
        record = self._state.load().get(SERVICE_NAME)
        return record if record is not None and is_running(record) else None

    def is_up(self) -> bool:
        return not self.enabled or probe(self.url) is not None

    def ensure(self, *, stale: bool = True) -> list[str]:
        """Start the proxy if nothing answers, else clear the faults of our routes; then put the routes.
        Returns what was cleaned (``stale`` words it as a crashed run's leftovers)."""
        if not self.enabled:
            return []
        actions: list[str] = []
        if probe(self.url) is not None:
            prefix = "stale " if stale else ""
            actions += [f"removed {prefix}HTTP fault {r.id} ({r.kind}) from {r.route}" for r in self.clean()]
        else:
            self._start()
        for name, (listen, upstream) in self.wanted_routes().items():
            self.client.put_route(name, listen, upstream)
        return actions

    def clean(self) -> list[RemovedFault]:
        """Remove every fault on this topology's routes (ours or stale; others' routes untouched)."""
        return clean_stale(self.client, only=self.route_names()) if self.enabled else []

    def routes(self) -> dict[str, Route] | None:
        """This topology's routes as the proxy has them, with their faults; None when it is not running."""
        if not self.enabled or probe(self.url) is None:
            return None
        names = set(self.route_names())
        return {name: route for name, route in self.client.routes().items() if name in names}

    def release(self) -> None:
        """Remove our faults and routes from a running proxy (its listeners close); nothing if it is down."""
        if not self.enabled or probe(self.url) is None:
            return
        self.clean()
        for name in self.route_names():
            self.client.delete_route(name, missing_ok=True)

    def stop(self) -> bool:
        """Stop the proxy this harness recorded or started; True when one was running."""
        was_running = False
        record = self._state.load().get(SERVICE_NAME)
        if record is not None:
            was_running = is_running(record)
            stop_proxy(record, self.settings.stop_grace_s)
            self._state.save({})
        if self._running is not None:
            self._running.stop(self.settings.stop_grace_s)
            self._running = None
        return was_running

    def status_lines(self) -> list[str]:
        """For ``harness status``: the process, its control URL, each route and its active faults."""
        if not self.enabled:
            return []
        record = self.record()
        owner = f"pid {record.pid}  log {record.log}" if record else "not started by this harness"
        routes = self.routes()
        if routes is None:
            return [f"{'http-fault-proxy':<17} {self.url:<24} not running"]
        lines = [f"{'http-fault-proxy':<17} {self.url:<24} {owner}"]
        for name in self.route_names():
            route = routes.get(name)
            if route is None:
                lines.append(f"  route {name:<22} missing ('harness up' creates it)")
                continue
            lines.append(f"  route {name:<22} {route.listen} -> {route.upstream}  "
                         f"{len(route.faults)} fault(s)")
            for rule in route.faults:
                params = ", ".join(f"{k}={_short(v)}" for k, v in rule.params.items() if v is not None)
                match = " ".join(f"{k}~{v!r}" for k, v in rule.match.items())
                lines.append(f"    {rule.id}  {rule.kind}({params}) p={rule.probability:g}" + (f"  {match}" if match else ""))
        return lines

    def control_port_problem(self) -> str | None:
        """For ``harness doctor``: None when the control port is free or our fault proxy answers there."""
        port = control_port(self.settings.port_offset)
        if not self.enabled or port_is_free(self.topology.host, port):
            return None
        try:
            if probe(self.url) is not None:
                return None
        except HttpFaultProxyError as exc:
            return str(exc)
        return (f"port {port} (HTTP fault proxy API) is taken by something that does not answer HTTP: "
                "free it, run 'harness down', or use --port-offset")

    def close(self) -> None:
        self.client.close()

    def _start(self) -> None:
        if self._running is not None:  # one we started that has died since: collect its exit status
            self._running.stop(self.settings.stop_grace_s)
            self._running = None
        config = ProxyConfig(
            python=sys.executable,  # the harness's interpreter: the proxy is part of the harness, not the system
            project_root=self.settings.project_root,
            log_path=self.settings.log_dir / "http-fault-proxy.log",
            host=self.topology.host,
            port=control_port(self.settings.port_offset),
        )
        proxy = start_proxy(config, recorded=self._state.load().get(SERVICE_NAME),
                            on_spawn=lambda record: self._state.save({SERVICE_NAME: record}))
        if proxy.record is None:
            raise HttpFaultProxyError(f"an HTTP fault proxy appeared at {self.url} while starting one")
        self._running = proxy
        self._state.save({SERVICE_NAME: proxy.record})


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
