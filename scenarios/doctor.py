"""``harness doctor``: each prerequisite of a run checked on its own, with how to fix what is missing.

    python_packages()        the packages the harness and the reference system import
    toxiproxy(settings)      the toxiproxy-server binary
    monitoring_tools(...)    prometheus and promtool, when the topology turns monitoring on
    docker_engine()          the Docker engine, for --backend docker
    ports(system)            the HTTP fault proxy's control port, then every port a run would bind

Each check returns a ``Check``: what it found (printed as ``name: found``) and its problems; it
never prints and never raises for a missing prerequisite, so the CLI lists every problem at once.
It lives here, not in ``core``, because it asks the fault and system layers where their tools are.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from core.errors import HarnessError
from core.ports import port_is_free
from core.settings import HarnessSettings
from core.topology import Topology
from system import BackendKind, ManagedSystem

PACKAGES = ("fastapi", "uvicorn", "aiohttp", "pybreaker", "httpx", "yaml", "numpy", "locust", "pytest_bdd")


@dataclass(frozen=True)
class Check:
    """One prerequisite: ``found`` says what is there (None: nothing to show), ``problems`` what is not."""

    name: str
    found: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _probe(name: str, find: Callable[[], object]) -> Check:
    """``find()``'s answer as what was found, or its HarnessError as the problem."""
    try:
        return Check(name, str(find()))
    except HarnessError as exc:
        return Check(name, problems=(str(exc),))


def python_packages() -> Check:
    missing = tuple(f"python package {module!r} missing: run scripts/setup.sh"
                    for module in PACKAGES if importlib.util.find_spec(module) is None)
    return Check("python packages", problems=missing)


def toxiproxy(settings: HarnessSettings) -> Check:
    from faults.toxiproxy_server import find_binary

    return _probe("toxiproxy-server", lambda: find_binary(settings.project_root, settings.toxiproxy_bin))


def monitoring_tools(topology: Topology, settings: HarnessSettings) -> list[Check]:
    """prometheus and promtool, only when runs of this topology start monitoring by default."""
    if not topology.monitoring.enabled:
        return []
    from monitoring.server import find_binary

    return [_probe(tool, partial(find_binary, settings.prometheus_bin, tool)) for tool in ("prometheus", "promtool")]


def docker_engine() -> Check:
    from system.docker.engine import connect

    def reach() -> str:
        connect(5.0).close()
        return "reachable"

    return _probe("docker engine", reach)


def ports(system: ManagedSystem) -> Check:
    """The fault proxy's control port (free, or our proxy answers there); then, when the system is not
    up, every port a run would bind."""
    from faults.toxiproxy_server import api_port

    http_problem = system.http_faults.control_port_problem()
    if http_problem is not None:
        return Check("ports", problems=(http_problem,))
    if system.is_up():
        return Check("ports")
    topology = system.topology
    wanted = [(s.port, s.name) for s in topology.services.values()]
    wanted += [(e.proxy_port, f"proxy {e.name}") for e in topology.edges]
    wanted += [(e.http_proxy_port, f"HTTP fault route {e.name}") for e in topology.edges if e.http_proxy_port]
    wanted.append((api_port(system.settings.port_offset), "toxiproxy API"))
    taken = tuple(f"port {port} ({owner}) is taken: free it, run 'harness down', or use --port-offset"
                  for port, owner in wanted if not port_is_free(topology.host, port))
    return Check("ports", problems=taken)


def run_checks(system: ManagedSystem) -> list[Check]:
    """Every check for ``system``, in the order the CLI shows them."""
    checks = [python_packages(), toxiproxy(system.settings), *monitoring_tools(system.topology, system.settings)]
    if system.backend_name is BackendKind.DOCKER:
        checks.append(docker_engine())
    checks.append(ports(system))
    return checks
