"""Everything that breaks the system on purpose, and puts it back.

    FaultSpec (frozen: what to break, validated before anything is sent)
        │  inject
        v
    Injector ──> FaultHandle (live: revert() is idempotent) ──> FaultSession reverts newest first
        │                                                        on success, failure, Ctrl-C, SIGTERM
        └── network (Toxiproxy) · HTTP (the HTTP fault proxy) · services and containers, through the
            ``ServiceControl`` / ``ContainerControl`` protocols a backend in ``system/`` implements

This package imports only ``core``: it never imports ``system`` (where services run) nor anything above.
"""
