"""Service faults on local processes: signals sent by PID to the processes the supervisor started.

    kill    SIGKILL to the service's process group: no graceful shutdown, sockets reset
    stop    SIGTERM (+SIGCONT so a paused process can act on it), SIGKILL after the grace period
    pause   SIGSTOP: the process keeps its sockets but answers nothing, like a hung service
    resume  SIGCONT
    start   the supervisor starts it again and waits for its startup probe

Only processes recorded in the harness's state (PID plus kernel start time) are ever signalled.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from core.errors import FaultError
from core.processes import ProcessRecord, is_paused, is_running, signal_group, terminate, wait_gone
from core.supervisor import LocalSupervisor


_SIGNAL_SETTLE_S = 5.0


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds; False if it still does not after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


class LocalControl:
    """``ServiceControl`` for services run as local processes by a ``LocalSupervisor``."""

    def __init__(self, supervisor: LocalSupervisor) -> None:
        self._supervisor = supervisor

    def _record(self, service: str) -> ProcessRecord:
        record = self._supervisor.state.load().get(service)
        if record is None or not is_running(record):
            raise FaultError(f"service {service!r} is not running (start it with 'harness up')")
        return record

    def kill(self, service: str) -> None:
        record = self._record(service)
        signal_group(record, signal.SIGKILL)
        wait_gone(record, 5.0)

    def stop(self, service: str, grace_s: float) -> None:
        terminate(self._record(service), grace_s)

    def pause(self, service: str) -> None:
        record = self._record(service)
        signal_group(record, signal.SIGSTOP)
        # Signals are delivered asynchronously: return only once the kernel shows it stopped.
        if not _wait_for(lambda: is_paused(record), _SIGNAL_SETTLE_S):
            raise FaultError(f"service {service!r} (pid {record.pid}) did not stop on SIGSTOP")

    def resume(self, service: str) -> None:
        record = self._supervisor.state.load().get(service)
        if record is not None:
            signal_group(record, signal.SIGCONT)
            _wait_for(lambda: not is_paused(record), _SIGNAL_SETTLE_S)

    def start(self, service: str) -> None:
        self._supervisor.ensure_running(service)

    def is_running(self, service: str) -> bool:
        record = self._supervisor.state.load().get(service)
        return record is not None and is_running(record)

    def is_paused(self, service: str) -> bool:
        record = self._supervisor.state.load().get(service)
        return record is not None and is_paused(record)

    def clean_stale(self) -> list[str]:
        """Resume paused services and restart dead ones left by a crashed run; say what was done."""
        actions: list[str] = []
        for name, record in self._supervisor.state.load().items():
            if is_paused(record):
                signal_group(record, signal.SIGCONT)
                _wait_for(lambda: not is_paused(record), _SIGNAL_SETTLE_S)  # delivered asynchronously
                actions.append(f"resumed paused service {name}")
            elif not is_running(record):
                self._supervisor.ensure_running(name)
                actions.append(f"restarted dead service {name}")
        return actions
