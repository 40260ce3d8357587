"""The fault only containers have, ``Recreate``, and its injector.

Like ``faults.service``, the injector works through a small protocol rather than the backend class,
so the fault catalogue can list and validate ``Recreate`` without loading the Docker backend, and
``system.docker.containers.DockerBackend`` is simply the object that satisfies ``ContainerControl``:
the fault layer never imports the system layer that runs the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from core.errors import FaultParameterError

from .base import FaultHandle, FaultSpec
from .service import ServiceControl


class ContainerControl(ServiceControl, Protocol):
    """A ``ServiceControl`` that can also replace a service's container by a new one."""

    def recreate(self, service: str, grace_s: float) -> None:
        """Stop (SIGKILL after ``grace_s``) and remove the container, create a new one, wait until it starts."""


@dataclass(frozen=True)
class Recreate(FaultSpec):
    """Remove the service's container and run a new one from the same image: a redeploy that loses
    in-memory state (caches, breaker state), unlike ``Restart`` which keeps the container."""

    grace_s: float = 10.0
    kind: ClassVar[str] = "recreate"

    def validate(self) -> None:
        super().validate()
        self._require(0 <= self.grace_s <= 300, "grace_s", f"must be within 0..300 seconds, got {self.grace_s}")


DOCKER_FAULTS: tuple[type[FaultSpec], ...] = (Recreate,)


class _EnsureRunning(FaultHandle):
    """Reverted by making sure the service runs, unpaused: a recreate may have failed half-way."""

    def __init__(self, spec: FaultSpec, control: ContainerControl) -> None:
        super().__init__(spec)
        self._control = control

    def _revert(self) -> None:
        target = self.spec.target
        if self._control.is_paused(target):
            self._control.resume(target)
        if not self._control.is_running(target):
            self._control.start(target)


class ContainerFaultInjector:
    """Injects the faults only containers have; the service faults that processes share (kill, stop,
    pause, restart) go through ``ServiceFaultInjector`` with the same backend as its control."""

    def __init__(self, control: ContainerControl, services: set[str]) -> None:
        self._control = control
        self._services = services

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, Recreate)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        if not isinstance(spec, Recreate):
            raise TypeError(f"not a container fault: {spec!r}")
        spec.validate()
        if spec.target not in self._services:
            known = ", ".join(sorted(self._services))
            raise FaultParameterError(spec.kind, "target", f"{spec.target!r} is not a service (known: {known})")
        handle = _EnsureRunning(spec, self._control)
        self._control.recreate(spec.target, spec.grace_s)
        return handle
