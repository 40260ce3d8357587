"""A running system under test: its services, the Toxiproxy in front of its dependencies, its faults.

    LocalSystem.up():   toxiproxy-server (started, or reused and cleaned) -> one proxy per edge
                        -> services as local processes, callers wired to the proxies
    LocalSystem.reset(): remove every toxic, enable every proxy, resume paused and restart dead services
    LocalSystem.down(): reset the network, remove the proxies, stop the services, stop the server

``harness up/down``, ``harness fault`` and the scenario engine all go through this one object, so a
fault injected by any of them is found and undone by any other, even after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import ToxiproxyError
from core.processes import is_running
from core.settings import HarnessSettings
from core.supervisor import LocalSupervisor, StateFile
from core.topology import Topology
from faults.base import Injector
from faults.network import NetworkInjector
from faults.process import LocalControl
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


class LocalSystem:
    """The topology's services as local processes, behind a Toxiproxy this harness runs."""

    def __init__(
        self,
        topology: Topology,
        settings: HarnessSettings,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.topology = topology
        self.settings = settings
        self.toxiproxy_url = f"http://{topology.host}:{api_port(settings.port_offset)}"
        self.client = ToxiproxyClient(self.toxiproxy_url)
        self.proxies = ProxyManager(self.client, topology)
        self.supervisor = LocalSupervisor(topology, settings, routes=self.proxies.routes(), overrides=overrides)
        self.control = LocalControl(self.supervisor)
        self._server_state = StateFile(settings.state_dir / "toxiproxy.json")
        self._server: RunningServer | None = None  # the server this object started, kept to reap it

    def entry_url(self) -> str:
        return self.supervisor.address(self.topology.entry)

    def injectors(self) -> list[Injector]:
        return [
            ServiceFaultInjector(self.control, set(self.topology.services)),
            NetworkInjector(self.client, self.topology),
        ]

    # -- lifecycle ---------------------------------------------------------------------------------

    def up(self) -> list[str]:
        """Start whatever is not running; return what stale faults were cleaned on the way."""
        actions = self._ensure_toxiproxy()
        self.proxies.ensure()
        actions += self.control.clean_stale()
        self.supervisor.start_all()
        return actions

    def ensure_up(self) -> None:
        self.up()

    def reset(self) -> list[str]:
        """Remove every fault, stale or ours: toxics, disabled proxies, paused or dead services."""
        actions: list[str] = []
        cleanup = clean_stale(self.client)
        actions += [f"removed toxic {toxic} from {proxy}" for proxy, toxic in cleanup.toxics]
        actions += [f"re-enabled proxy {proxy}" for proxy in cleanup.enabled]
        self.proxies.ensure()
        actions += self.control.clean_stale()
        return actions

    def down(self) -> list[str]:
        """Stop everything ``up`` started; faults go with it. Returns the stopped names."""
        if probe(self.toxiproxy_url) is not None:
            clean_stale(self.client)
            self.proxies.remove()
        stopped = self.supervisor.stop_all()
        record = self._server_state.load().get(SERVICE_NAME)
        if record is not None:
            if is_running(record):
                stopped.append(SERVICE_NAME)
            stop_server(record, self.settings.stop_grace_s)
            self._server_state.save({})
        if self._server is not None:
            self._server.stop(self.settings.stop_grace_s)
            self._server = None
        self.client.close()
        return stopped

    def close(self) -> None:
        self.client.close()

    def _ensure_toxiproxy(self) -> list[str]:
        actions: list[str] = []
        if probe(self.toxiproxy_url) is not None:
            cleanup = clean_stale(self.client)
            actions += [f"removed stale toxic {t} from {p}" for p, t in cleanup.toxics]
            actions += [f"re-enabled stale disabled proxy {p}" for p in cleanup.enabled]
            return actions
        config = ServerConfig(
            binary=find_binary(self.settings.project_root, self.settings.toxiproxy_bin),
            log_path=self.settings.log_dir / "toxiproxy.log",
            host=self.topology.host,
            port=api_port(self.settings.port_offset),
        )
        server = start_server(config)
        if server.record is None:
            raise ToxiproxyError(f"a Toxiproxy appeared at {self.toxiproxy_url} while starting one")
        self._server = server
        self._server_state.save({SERVICE_NAME: server.record})
        return actions
