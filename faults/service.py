"""Service faults: kill, stop, pause and restart a service, whatever runs it (processes or containers).

The specs and their handles are the same for every backend; a backend only has to offer the small
``ServiceControl`` surface (signals for local processes, the Docker SDK for containers). Reverting a
service fault always means "the service is running and unpaused again", so a killed or stopped
service is started again and waited for, and a paused one is resumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from core.errors import FaultParameterError

from .base import FaultHandle, FaultSpec


class ServiceControl(Protocol):
    """What a backend must do to a named service of the topology."""

    def kill(self, service: str) -> None:
        """Kill at once (SIGKILL): no graceful shutdown."""

    def stop(self, service: str, grace_s: float) -> None:
        """Ask to stop (SIGTERM), kill after ``grace_s``."""

    def pause(self, service: str) -> None:
        """Freeze every process of the service (SIGSTOP / cgroup freezer): a hung service."""

    def resume(self, service: str) -> None:
        """Undo ``pause``."""

    def start(self, service: str) -> None:
        """Start the service if it is not running and wait until its startup probe passes."""

    def is_running(self, service: str) -> bool: ...

    def is_paused(self, service: str) -> bool: ...


@dataclass(frozen=True)
class Kill(FaultSpec):
    kind: ClassVar[str] = "kill"


@dataclass(frozen=True)
class Stop(FaultSpec):
    grace_s: float = 10.0
    kind: ClassVar[str] = "stop"

    def validate(self) -> None:
        super().validate()
        self._require(0 <= self.grace_s <= 300, "grace_s", f"must be within 0..300 seconds, got {self.grace_s}")


@dataclass(frozen=True)
class Pause(FaultSpec):
    kind: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Restart(FaultSpec):
    grace_s: float = 10.0
    kind: ClassVar[str] = "restart"

    def validate(self) -> None:
        super().validate()
        self._require(0 <= self.grace_s <= 300, "grace_s", f"must be within 0..300 seconds, got {self.grace_s}")


class _Restore(FaultHandle):
    """Reverted by resuming the service if paused and, unless ``resume_only``, starting it if it is not
    running (after a kill or stop)."""

    def __init__(self, spec: FaultSpec, control: ServiceControl, *, resume_only: bool = False) -> None:
        super().__init__(spec)
        self._control = control
        self._resume_only = resume_only

    def _revert(self) -> None:
        if self._control.is_paused(self.spec.target):
            self._control.resume(self.spec.target)
        if not self._resume_only and not self._control.is_running(self.spec.target):
            self._control.start(self.spec.target)


class ServiceFaultInjector:
    """Injects service faults through one backend's ``ServiceControl``."""

    def __init__(self, control: ServiceControl, services: set[str]) -> None:
        self._control = control
        self._services = services

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, Kill | Stop | Pause | Restart)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        spec.validate()
        if spec.target not in self._services:
            known = ", ".join(sorted(self._services))
            raise FaultParameterError(spec.kind, "target", f"{spec.target!r} is not a service (known: {known})")
        control, target = self._control, spec.target
        if isinstance(spec, Kill):
            control.kill(target)
            return _Restore(spec, control)
        if isinstance(spec, Stop):
            control.stop(target, spec.grace_s)
            return _Restore(spec, control)
        if isinstance(spec, Pause):
            control.pause(target)
            return _Restore(spec, control, resume_only=True)
        if isinstance(spec, Restart):
            control.stop(target, spec.grace_s)
            control.start(target)
            return _Restore(spec, control)
        raise TypeError(f"not a service fault: {spec!r}")


SERVICE_FAULTS: tuple[type[FaultSpec], ...] = (Kill, Stop, Pause, Restart)
