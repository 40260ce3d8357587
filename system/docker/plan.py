"""What the Docker backend asks the engine for: one container per service, described as plain data.

Kept apart from ``system.docker.containers`` so that naming, labels and the environment can be checked without
an engine, and so that the Docker SDK stays inside one module.

    Topology + Service + settings ──plan_container──> ContainerPlan(name, image, command, env, labels)
                                                           │
                                                           └──> DockerBackend creates exactly this

Every container carries labels, because the engine is the backend's only state: a later process
(``harness down``, a run after a crash) finds the containers of *its* state directory by label and
leaves other runs' containers alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.topology import Service, Topology

LABEL_MANAGED = "rag-chaos.managed"
LABEL_TOPOLOGY = "rag-chaos.topology"
LABEL_SERVICE = "rag-chaos.service"
LABEL_STATE = "rag-chaos.state"
LABEL_CONFIG = "rag-chaos.config"

_UNSAFE = re.compile(r"[^a-z0-9.-]+")


@dataclass(frozen=True)
class ContainerPlan:
    """One service's container as the backend creates it; ``config`` fingerprints what it runs."""

    service: str
    name: str
    image: str
    command: tuple[str, ...]
    environment: Mapping[str, str]
    labels: Mapping[str, str]
    port: int
    startup_url: str
    startup_timeout_s: float

    @property
    def config(self) -> str:
        return self.labels[LABEL_CONFIG]


def container_name(topology: str, service: str, port_offset: int) -> str:
    """``rag-chaos_<topology>_<service>_<offset>``: readable in ``docker ps``, and distinct for two runs
    on different port offsets. Underscores separate the parts because names use ``-`` inside them."""
    slug = _UNSAFE.sub("-", topology.lower()).strip(".-") or "topology"
    return f"rag-chaos_{slug}_{service}_{port_offset}"


def state_labels(state_dir: Path) -> dict[str, str]:
    """The labels that select the containers of one harness state directory (one run's world)."""
    return {LABEL_MANAGED: "1", LABEL_STATE: str(state_dir)}


def label_filter(labels: Mapping[str, str]) -> dict[str, list[str]]:
    """An engine-side filter matching containers that carry every one of ``labels``."""
    return {"label": [f"{key}={value}" for key, value in sorted(labels.items())]}


def service_environment(
    topology: Topology,
    service: Service,
    python: str,
    routes: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The variables ``LocalSupervisor.environment`` gives a process, minus the host's own environment:
    a container gets only what the topology and the test ask for (its image supplies PATH and the rest)."""
    routes = routes or {}
    values = {"python": python, "host": topology.host, "port": str(service.port)}
    env = {"PYTHONUNBUFFERED": "1"}
    env.update({key: value.format(**values) for key, value in service.env.items()})
    for edge in topology.edges:
        if edge.source == service.name:
            callee = topology.service(edge.target)
            env[edge.env] = "http://" + routes.get(edge.name, f"{topology.host}:{callee.port}")
    env.update((overrides or {}).get(service.name, {}))
    return env


def plan_container(
    topology: Topology,
    service: Service,
    *,
    state_dir: Path,
    port_offset: int,
    python: str,
    startup_timeout_s: float,
    routes: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> ContainerPlan:
    """The container for ``service``; ``{python}`` in its command is the image's interpreter."""
    if service.docker is None:
        raise ConfigError(str(topology.path), f"services.{service.name}: no 'docker' section, cannot run it as a container")
    values = {"python": python, "host": topology.host, "port": str(service.port)}
    command = tuple(part.format(**values) for part in service.command)
    environment = service_environment(topology, service, python, routes, overrides)
    fingerprint = json.dumps([service.docker.image, command, sorted(environment.items())])
    labels = {
        **state_labels(state_dir),
        LABEL_TOPOLOGY: topology.name,
        LABEL_SERVICE: service.name,
        LABEL_CONFIG: hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
    }
    return ContainerPlan(
        service=service.name,
        name=container_name(topology.name, service.name, port_offset),
        image=service.docker.image,
        command=command,
        environment=environment,
        labels=labels,
        port=service.port,
        startup_url=f"http://{topology.host}:{service.port}{service.probes.startup}",
        startup_timeout_s=min(service.startup_timeout_s, startup_timeout_s),
    )
