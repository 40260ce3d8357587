"""A running system under test: its services, the Toxiproxy in front of its dependencies, its faults.

    up():    HTTP fault proxy (when an edge has http_proxy_port; started, or reused and cleaned)
             -> toxiproxy-server (started, or reused and cleaned) -> one proxy per edge
             -> services (local processes or containers), callers wired to the proxies
    reset(): remove every toxic and HTTP fault, enable every proxy, resume paused and restart dead services
    down():  reset the network, remove the proxies, stop the services, stop both proxy servers

``harness up/down``, ``harness fault`` and the scenario engine all go through this one object, so a
fault injected by any of them is found and undone by any other, even after a crash. Where services
run is a ``Backend``: local processes (signals by PID) or Docker containers (the Docker SDK).
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import ToxiproxyError
from core.interrupts import shielded
from core.processes import is_running
from core.settings import HarnessSettings
from core.state import StateFile
from core.topology import Topology
from faults.base import Injector
from faults.http.lifecycle import SERVICE_NAME as HTTP_PROXY_NAME
from faults.http.manager import HttpFaultProxy
from faults.network import NetworkInjector
from faults.proxies import ProxyManager, clean_stale
from faults.service import ServiceFaultInjector
from faults.toxiproxy import ToxiproxyClient
from faults.toxiproxy_server import (
    SERVICE_NAME,
    RunningServer,
    ServerConfig,
    api_port,
    find_binary,
    probe,
    start_server,
    stop_server,
)

from .backend import Backend, BackendKind
from .local.backend import LocalBackend
from .local.supervisor import LocalSupervisor


class ManagedSystem:
    """The topology's services (on a backend) behind a Toxiproxy this harness runs."""

    def __init__(
        self,
        topology: Topology,
        settings: HarnessSettings,
        backend: BackendKind = BackendKind.LOCAL,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.topology = topology
        self.settings = settings
        self.toxiproxy_url = f"http://{topology.host}:{api_port(settings.port_offset)}"
        self.client = ToxiproxyClient(self.toxiproxy_url)
        self.http_faults = HttpFaultProxy(topology, settings)  # edges with http_proxy_port go through it
        self.proxies = ProxyManager(self.client, topology, via_http_proxy=self.http_faults.enabled)
        routes = self.proxies.routes()
        self.supervisor = LocalSupervisor(topology, settings, routes=routes, overrides=overrides)
        if backend is BackendKind.LOCAL:
            self.backend: Backend = LocalBackend(self.supervisor)
        else:
            from .docker.backend import DockerServiceBackend  # only now: the local path never loads Docker code

            self.backend = DockerServiceBackend(topology, settings, routes, overrides)
        self.backend_name = backend
        self._server_state = StateFile(settings.state_dir / "toxiproxy.json")
        self._server: RunningServer | None = None  # the server this object started, kept to reap it

    def address(self, service: str) -> str:
        return f"http://{self.topology.host}:{self.topology.service(service).port}"

    def entry_url(self) -> str:
        return self.address(self.topology.entry)

    def calls_metrics_url(self) -> str | None:
        return self.http_faults.url + "/metrics" if self.http_faults.enabled else None

    def injectors(self) -> list[Injector]:
        return [
            ServiceFaultInjector(self.backend.control, set(self.topology.services)),
            NetworkInjector(self.client, self.topology),
            *([self.http_faults.injector()] if self.http_faults.enabled else []),
            *self.backend.injectors(),
        ]

    # -- lifecycle ---------------------------------------------------------------------------------

    def up(self) -> list[str]:
        """Start whatever is not running; return what stale faults were cleaned on the way.

        All or nothing: when the system was down and the start fails (a service that does not start,
        Ctrl-C, SIGTERM), everything started on the way, Toxiproxy and the fault proxy included, is
        stopped again before the error goes on. A system that was up is left as it was."""
        was_up = self.is_up()
        try:
            actions = self.http_faults.ensure(stale=True)  # before Toxiproxy forwards to its routes
            actions += self._ensure_toxiproxy()
            self.proxies.ensure()
            actions += self.backend.clean_stale()
            self.backend.start_all()
        except BaseException:
            if not was_up:
                with shielded():
                    self.down()
            raise
        return actions

    def ensure_up(self) -> None:
        self.up()

    def is_up(self) -> bool:
        running = self.backend.running()
        return (all(name in running for name in self.topology.services) and probe(self.toxiproxy_url) is not None
                and self.http_faults.is_up())

    def reset(self) -> list[str]:
        """Remove every fault, stale or ours: toxics, disabled proxies, paused or dead services."""
        actions = self.http_faults.ensure(stale=False)  # also restarts a fault proxy that died
        cleanup = clean_stale(self.client, only=self._proxy_names())
        actions += [f"removed toxic {toxic} from {proxy}" for proxy, toxic in cleanup.toxics]
        actions += [f"re-enabled proxy {proxy}" for proxy in cleanup.enabled]
        self.proxies.ensure()
        actions += self.backend.clean_stale()
        return actions

    def restart_services(self) -> None:
        self.backend.stop_all()
        self.backend.start_all()

    def down(self) -> list[str]:
        """Stop everything ``up`` started; faults go with it. Returns the stopped names."""
        stopped: list[str] = []
        try:
            if probe(self.toxiproxy_url) is not None:
                clean_stale(self.client, only=self._proxy_names())
                self.proxies.remove()
            self.http_faults.release()
            stopped = self.backend.stop_all()
        finally:
            try:
                if self._stop_toxiproxy():  # even after a failed service stop
                    stopped.append(SERVICE_NAME)
            finally:
                if self.http_faults.stop():
                    stopped.append(HTTP_PROXY_NAME)
        return stopped

    def _stop_toxiproxy(self) -> bool:
        """Stop the Toxiproxy server this harness recorded or started; True when one was running."""
        was_running = False
        record = self._server_state.load().get(SERVICE_NAME)
        if record is not None:
            was_running = is_running(record)
            stop_server(record, self.settings.stop_grace_s)
            self._server_state.save({})
        if self._server is not None:
            self._server.stop(self.settings.stop_grace_s)
            self._server = None
        return was_running

    def close(self) -> None:
        self.client.close()
        self.http_faults.close()
        self.backend.close()

    def _proxy_names(self) -> list[str]:
        return [edge.name for edge in self.topology.edges]

    def _ensure_toxiproxy(self) -> list[str]:
        actions: list[str] = []
        if probe(self.toxiproxy_url) is not None:
            # Possibly a Toxiproxy shared with others: clean only this topology's proxies.
            cleanup = clean_stale(self.client, only=self._proxy_names())
            actions += [f"removed stale toxic {t} from {p}" for p, t in cleanup.toxics]
            actions += [f"re-enabled stale disabled proxy {p}" for p in cleanup.enabled]
            return actions
        config = ServerConfig(
            binary=find_binary(self.settings.project_root, self.settings.toxiproxy_bin),
            log_path=self.settings.log_dir / "toxiproxy.log",
            host=self.topology.host,
            port=api_port(self.settings.port_offset),
        )
        server = start_server(config, on_spawn=lambda record: self._server_state.save({SERVICE_NAME: record}))
        if server.record is None:
            raise ToxiproxyError(f"a Toxiproxy appeared at {self.toxiproxy_url} while starting one")
        self._server = server
        self._server_state.save({SERVICE_NAME: server.record})
        return actions
