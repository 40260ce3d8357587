"""The Docker backend: a topology's services as containers, and the ``ServiceControl`` faults act on.

    up:    clean_stale (optional) -> for each service, dependencies first: reuse its container when it
           runs the current image and configuration, else (re)create it -> start -> startup probe
    down:  every container labelled with our state directory: unpause -> stop -> save logs -> remove
    fault: kill (SIGKILL) · stop (SIGTERM, kill after grace) · pause (cgroup freezer) · start · recreate

Containers use host networking only, so a service listens on the same 127.0.0.1 port as it would as a
local process and Toxiproxy routes need no change. The engine is the only state: labels (see
``system.docker.plan``) let another process find exactly this run's containers.

The Docker SDK is loaded lazily by ``system.docker.engine`` (so the harness works without it for the
local backend), and every SDK or transport error is translated into ``DockerError`` by
``system.docker.errors``: nothing of the SDK escapes these modules.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import DockerError, FaultError, PortInUseError
from core.ports import wait_port_free
from core.settings import HarnessSettings
from core.topology import Topology
from system.probes import wait_started

from .engine import Client, Container, connect, sdk
from .errors import translated
from .plan import LABEL_CONFIG, LABEL_SERVICE, ContainerPlan, label_filter, plan_container, state_labels

_POLL_S = 0.05


@dataclass(frozen=True)
class ContainerInfo:
    """What the engine says about one service's container (for ``harness up`` output and tests)."""

    name: str
    id: str
    status: str  # created, running, paused, restarting, exited, dead
    started_at: str
    network_mode: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class StaleAction:
    """What ``clean_stale`` did to one container left behind by an earlier run."""

    service: str
    container: str
    action: Literal["unpaused", "restarted", "removed"]

    def describe(self) -> str:
        return f"{self.action} {self.container} ({self.service})"


class DockerBackend:
    """Runs a topology's services as containers on the local engine (host networking only)."""

    def __init__(
        self,
        topology: Topology,
        settings: HarnessSettings,
        routes: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        *,
        python: str = "python3",
        client: Client | None = None,
        api_timeout_s: float = 30.0,
    ) -> None:
        """``routes`` and ``overrides`` mean what they mean for ``LocalSupervisor``. ``python`` replaces
        ``{python}`` in commands: the image's interpreter, not the harness's. ``client`` is a Docker SDK
        client to use (tests, remote engines); by default one is made from ``DOCKER_HOST`` on first use."""
        self.topology = topology
        self.settings = settings
        self._routes = dict(routes or {})
        self._overrides = {name: dict(env) for name, env in (overrides or {}).items()}
        self._python = python
        self._client = client
        self._owns_client = client is None
        self._api_timeout_s = api_timeout_s

    # -- engine connection -----------------------------------------------------------------------

    def _engine(self) -> Client:
        if self._client is None:
            self._client = connect(self._api_timeout_s)
        return self._client

    def close(self) -> None:
        """Close the connection to the engine (only when this backend opened it)."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def __enter__(self) -> DockerBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what runs where -------------------------------------------------------------------------

    def plan(self, service: str) -> ContainerPlan:
        """The container this backend runs for ``service``."""
        return plan_container(
            self.topology,
            self.topology.service(service),
            state_dir=self.settings.state_dir,
            port_offset=self.settings.port_offset,
            python=self._python,
            startup_timeout_s=self.settings.startup_timeout_s,
            routes=self._routes,
            overrides=self._overrides,
        )

    def address(self, service: str) -> str:
        return f"http://{self.topology.host}:{self.topology.service(service).port}"

    def containers(self) -> list[Container]:
        """Every container of this state directory, whatever its state or topology."""
        with translated("list containers"):
            found: list[Container] = self._engine().containers.list(
                all=True, filters=label_filter(state_labels(self.settings.state_dir))
            )
        return found

    def running(self) -> dict[str, str]:
        """Service name -> container name, for the services whose container runs (paused included)."""
        return {c.labels.get(LABEL_SERVICE, "?"): c.name for c in self.containers() if c.status in {"running", "paused"}}

    def inspect(self, service: str) -> ContainerInfo | None:
        """The service's container as the engine sees it now, or None when there is none."""
        container = self._find(self.plan(service).name)
        if container is None:
            return None
        attrs = container.attrs
        return ContainerInfo(
            name=container.name,
            id=container.id,
            status=container.status,
            started_at=str(attrs.get("State", {}).get("StartedAt", "")),
            network_mode=str(attrs.get("HostConfig", {}).get("NetworkMode", "")),
            labels=dict(container.labels),
        )

    def _find(self, name: str) -> Container | None:
        with translated(f"inspect container {name}"):
            try:
                return self._engine().containers.get(name)
            except sdk().errors.NotFound:
                return None

    def _status(self, service: str) -> str | None:
        container = self._find(self.plan(service).name)
        return None if container is None else str(container.status)

    # -- up and down -----------------------------------------------------------------------------

    def start_all(self) -> list[str]:
        """Start every service not already running, dependencies first; stop everything on failure.
        Returns the names of the services it started."""
        started = []
        try:
            for service in self.topology.start_order():
                if self._status(service.name) != "running":
                    started.append(service.name)
                self.start(service.name)
        except BaseException:
            self.stop_all()
            raise
        return started

    def stop_all(self) -> list[str]:
        """Stop and remove this state directory's containers, callers first; their output is kept in
        the state directory's ``logs/``. Returns the services whose container was running."""
        order = {s.name: i for i, s in enumerate(reversed(self.topology.start_order()))}
        containers = sorted(self.containers(), key=lambda c: order.get(c.labels.get(LABEL_SERVICE, ""), len(order)))
        stopped = []
        for container in containers:
            if container.status in {"running", "paused"}:
                stopped.append(container.labels.get(LABEL_SERVICE, container.name))
            self._remove(container, self.settings.stop_grace_s)
        return stopped

    def clean_stale(self) -> list[StaleAction]:
        """Put right what a crashed run of this state directory left: containers of unknown services, of
        another port offset, of an outdated image or configuration, or dead, are removed; paused ones
        are unpaused; exited ones are started again (and waited for). Running, current containers are
        kept as they are. Other state directories' containers (other runs) are never touched."""
        order = {s.name: i for i, s in enumerate(self.topology.start_order())}
        actions = []
        for container in sorted(self.containers(), key=lambda c: order.get(c.labels.get(LABEL_SERVICE, ""), -1)):
            service = container.labels.get(LABEL_SERVICE, "")
            plan = self.plan(service) if service in self.topology.services else None
            stale = plan is None or container.name != plan.name or not self._is_current(container, plan)
            if stale or container.status == "dead":
                self._remove(container, grace_s=0)
                actions.append(StaleAction(service, container.name, "removed"))
            elif container.status == "paused":
                with translated(f"unpause {container.name}"):
                    container.unpause()
                actions.append(StaleAction(service, container.name, "unpaused"))
            elif container.status in {"exited", "created"}:
                self.start(service)
                actions.append(StaleAction(service, container.name, "restarted"))
        return actions

    # -- ServiceControl --------------------------------------------------------------------------

    def kill(self, service: str) -> None:
        """SIGKILL the container (paused or not) and wait until the engine sees it exited."""
        container = self._running_container(service, "kill")
        with translated(f"kill {container.name}"):
            container.kill(signal="SIGKILL")
        self._wait_exited(container, timeout_s=10.0)

    def stop(self, service: str, grace_s: float) -> None:
        """``docker stop``: SIGTERM, SIGKILL after ``grace_s``. A paused container is unpaused first,
        because a frozen process cannot handle SIGTERM and would always be killed."""
        container = self._running_container(service, "stop")
        with translated(f"stop {container.name}"):
            if container.status == "paused":
                container.unpause()
            container.stop(timeout=math.ceil(grace_s))
        self._wait_exited(container, timeout_s=10.0)

    def pause(self, service: str) -> None:
        """Freeze every process of the container (cgroup freezer): the service hangs, connections stay open."""
        container = self._running_container(service, "pause")
        if container.status != "paused":
            with translated(f"pause {container.name}"):
                container.pause()

    def resume(self, service: str) -> None:
        container = self._find(self.plan(service).name)
        if container is not None and container.status == "paused":
            with translated(f"unpause {container.name}"):
                container.unpause()

    def start(self, service: str) -> None:
        """Make the service run: unpause, start, or (re)create its container, then wait for its startup
        probe. A container with an outdated image or configuration is replaced rather than reused."""
        plan = self.plan(service)
        container = self._find(plan.name)
        if container is not None and not self._is_current(container, plan):
            self._remove(container, self.settings.stop_grace_s)
            container = None
        if container is not None and container.status == "paused":
            with translated(f"unpause {plan.name}"):
                container.unpause()
        elif container is None or container.status != "running":
            self._wait_port_free(plan)
            with translated(f"start {plan.name}"):
                if container is None:
                    container = self._create(plan)
                container.start()
        self._wait_started(plan, container)

    def is_running(self, service: str) -> bool:
        """True while the container's processes exist, paused or not (like a stopped-by-signal process)."""
        return self._status(service) in {"running", "paused"}

    def is_paused(self, service: str) -> bool:
        return self._status(service) == "paused"

    def recreate(self, service: str, grace_s: float) -> None:
        """Replace the container by a new one from the same image: a redeploy, losing in-memory state."""
        container = self._find(self.plan(service).name)
        if container is not None:
            self._remove(container, grace_s)
        self.start(service)

    # -- helpers ---------------------------------------------------------------------------------

    def _running_container(self, service: str, action: str) -> Container:
        container = self._find(self.plan(service).name)
        if container is None or container.status not in {"running", "paused"}:
            state = "absent" if container is None else container.status
            raise FaultError(f"cannot {action} {service!r}: its container is not running ({state})")
        return container

    def _create(self, plan: ContainerPlan) -> Container:
        try:
            return self._engine().containers.create(
                plan.image,
                list(plan.command),
                name=plan.name,
                environment=dict(plan.environment),
                labels=dict(plan.labels),
                network_mode="host",  # never a bridge: every port stays on the host's loopback
                detach=True,
            )
        except sdk().errors.ImageNotFound:
            raise DockerError(f"image {plan.image!r} is missing: run scripts/setup.sh (or build it)") from None

    def _is_current(self, container: Container, plan: ContainerPlan) -> bool:
        """Same configuration, and the image the tag names now (a rebuilt image makes it outdated)."""
        if container.labels.get(LABEL_CONFIG) != plan.config:
            return False
        with translated(f"inspect image {plan.image}"):
            try:
                image_id = self._engine().images.get(plan.image).id
            except sdk().errors.ImageNotFound:
                return True  # nothing newer to move to: keep what runs
        return bool(container.attrs.get("Image") == image_id)

    def _remove(self, container: Container, grace_s: float) -> None:
        """Stop (gracefully when ``grace_s`` > 0), keep the logs, remove. Gone already is fine."""
        with translated(f"remove {container.name}"):
            try:
                container.reload()
                if container.status == "paused":
                    container.unpause()
                if container.status in {"running", "paused"} and grace_s > 0:
                    container.stop(timeout=math.ceil(grace_s))
                self._save_logs(container)
                container.remove(force=True, v=True)
            except sdk().errors.NotFound:
                pass

    def _save_logs(self, container: Container) -> str:
        """Copy the container's output to ``<state>/logs/<service>-<id>.log``, which outlives it. One file
        per container, rewritten whole: the engine keeps the full output until the container is removed."""
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        service = container.labels.get(LABEL_SERVICE, "container")
        path = self.settings.log_dir / f"{service}-{container.short_id}.log"
        with translated(f"read the logs of {container.name}"):
            output: bytes = container.logs(stdout=True, stderr=True)
        path.write_bytes(output)
        return str(path)

    def _wait_exited(self, container: Container, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with translated(f"wait for {container.name} to exit"):
            while True:
                container.reload()
                if container.status not in {"running", "paused", "restarting"}:
                    return
                if time.monotonic() >= deadline:
                    raise FaultError(f"container {container.name} still runs {timeout_s:g}s after being stopped")
                time.sleep(_POLL_S)

    def _wait_port_free(self, plan: ContainerPlan) -> None:
        """Host networking: the port must be free on the host, and a just-killed process frees it late."""
        if not wait_port_free(self.topology.host, plan.port, timeout_s=3.0):
            raise PortInUseError(plan.service, self.topology.host, plan.port)

    def _wait_started(self, plan: ContainerPlan, container: Container) -> None:
        wait_started(plan.service, plan.startup_url, plan.startup_timeout_s,
                     lambda: self._exit_reason(plan, container), lambda: self._save_logs(container))

    def _exit_reason(self, plan: ContainerPlan, container: Container) -> str | None:
        """Why the container is no longer starting (the engine's latest word), or None while it is."""
        with translated(f"inspect {plan.name}"):
            container.reload()
        if container.status in {"running", "paused", "restarting"}:
            return None
        return f"container {plan.name} exited with code {container.attrs.get('State', {}).get('ExitCode')}"
