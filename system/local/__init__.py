"""The local backend: a topology's services as local processes, one session (process group) each.

    supervisor.py  ``LocalSupervisor``: start and stop them, recorded by PID in the state file
    backend.py     ``LocalControl`` (the ``ServiceControl`` faults use: signals by PID) and
                   ``LocalBackend`` (the ``Backend`` that ``ManagedSystem`` drives)
"""
