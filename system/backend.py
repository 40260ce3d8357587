"""Where the services run: the ``Backend`` seam between ``ManagedSystem`` and processes or containers.

    BackendKind.LOCAL   system.local   processes started and signalled by PID
    BackendKind.DOCKER  system.docker  containers on the local engine (the Docker SDK, loaded lazily)

A backend starts and stops the topology's services, cleans what a crashed run left, says what runs,
and hands the fault layer its ``ServiceControl`` (plus any faults only it can make). Everything above
it (``ManagedSystem``, the CLI, the scenario engine) is the same for both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from faults.base import Injector
from faults.service import ServiceControl


class BackendKind(StrEnum):
    """The backends a run can use; the values are what ``--backend`` takes."""

    LOCAL = "local"
    DOCKER = "docker"


class Backend(Protocol):
    """Where the services run."""

    @property
    def control(self) -> ServiceControl: ...

    def start_all(self) -> None: ...

    def stop_all(self) -> list[str]: ...

    def clean_stale(self) -> list[str]: ...

    def running(self) -> set[str]: ...

    def describe(self, service: str) -> str: ...

    def injectors(self) -> list[Injector]: ...

    def close(self) -> None: ...
