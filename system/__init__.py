"""Where the services of a system under test run, and the running system the harness drives.

    managed.py   ManagedSystem: the services on a backend, behind Toxiproxy and the HTTP fault proxy
    backend.py   the Backend protocol and BackendKind (``--backend local|docker``)
    local/       services as local processes: the supervisor, signals by PID
    docker/      services as containers: the Docker SDK, imported lazily and only there
    probes.py    the startup-probe wait both backends use
    client.py    SystemClient: the typed client of the system's HTTP contract (status, probes, chat, metrics)

Layering: this package imports ``core`` and ``faults`` (the ``ServiceControl`` and injectors it hands
the fault layer) and nothing above them; ``scenarios``, ``bench`` and ``harness.py`` import it.
``faults`` never imports it: a backend satisfies the fault layer's protocols (``ServiceControl``,
``ContainerControl``) instead. The public names are ``ManagedSystem``, ``Backend`` and ``BackendKind``;
importing this package loads no Docker code.
"""

from __future__ import annotations

from .backend import Backend, BackendKind
from .managed import ManagedSystem

__all__ = ["Backend", "BackendKind", "ManagedSystem"]
