"""Everything that breaks the system on purpose, and puts it back.

    FaultSpec (frozen: what to break, validated before anything is sent)
        │  inject
        v
    Injector ──> FaultHandle (live: revert() is idempotent) ──> FaultSession reverts newest first
        │                                                        on success, failure, Ctrl-C, SIGTERM
        └── network (Toxiproxy) · process signals (local backend) · containers (Docker backend)
"""
