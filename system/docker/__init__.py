"""The Docker backend: a topology's services as containers on the local engine, host networking only.

    plan.py        the container each service gets, as plain data (names, labels, environment)
    engine.py      the one place the Docker SDK is imported (lazily) and a client is made
    errors.py      the error boundary: SDK and transport errors become ``DockerError``
    containers.py  ``DockerBackend``: up, down, stale containers, and the ``ServiceControl`` faults use
    backend.py     ``DockerServiceBackend``: the ``Backend`` that ``ManagedSystem`` drives

Nothing is imported here: ``system.managed`` imports ``backend.py`` only for ``--backend docker``,
and even then the SDK is loaded only when the backend first talks to the engine.
"""
