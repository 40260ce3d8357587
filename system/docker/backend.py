"""The Docker backend as ``system.managed.ManagedSystem`` drives it: a ``Backend`` over ``DockerBackend``.

``DockerBackend`` (``system.docker.containers``) is both the containers' lifecycle and the
``ServiceControl`` faults act on; this adapter gives it the shape every backend has, describes a
container for ``harness status``, and adds the fault only containers have (``Recreate``, through
``faults.docker_specs.ContainerFaultInjector``). ``ManagedSystem`` imports this module only for
``--backend docker``; the Docker SDK itself is loaded later still, on the first call to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.settings import HarnessSettings
from core.topology import Topology
from faults.base import Injector
from faults.docker_specs import ContainerFaultInjector

from .containers import DockerBackend


class DockerServiceBackend:
    """Services as containers with host networking (``system.docker.containers``)."""

    def __init__(self, topology: Topology, settings: HarnessSettings, routes: Mapping[str, str],
                 overrides: Mapping[str, Mapping[str, str]] | None) -> None:
        self.docker = DockerBackend(topology, settings, routes=routes, overrides=overrides)
        self.control = self.docker
        self._services = set(topology.services)

    def start_all(self) -> None:
        self.docker.start_all()

    def stop_all(self) -> list[str]:
        return self.docker.stop_all()

    def clean_stale(self) -> list[str]:
        return [action.describe() for action in self.docker.clean_stale()]

    def running(self) -> set[str]:
        return set(self.docker.running())

    def describe(self, service: str) -> str:
        info = self.docker.inspect(service)
        return f"container {info.name} ({info.status})" if info else "no container"

    def injectors(self) -> list[Injector]:
        return [ContainerFaultInjector(self.docker, self._services)]

    def close(self) -> None:
        self.docker.close()
