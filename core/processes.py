"""Processes the harness started, identified safely enough to signal them later from another process.

A PID alone is not an identity: after a crash the number may belong to something else. Each record
keeps the kernel's start time of the process (``/proc/<pid>/stat`` field 22), and nothing is signalled
unless both still match.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    service: str
    pid: int
    start_ticks: int
    port: int
    log: str

    def to_json(self) -> dict[str, object]:
        return {"service": self.service, "pid": self.pid, "start_ticks": self.start_ticks, "port": self.port, "log": self.log}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ProcessRecord:
        return cls(
            service=str(data["service"]),
            pid=int(str(data["pid"])),
            start_ticks=int(str(data["start_ticks"])),
            port=int(str(data["port"])),
            log=str(data["log"]),
        )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; it ends at the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state (R, S, T for stopped, Z for zombie...), or None when gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def is_running(record: ProcessRecord) -> bool:
    """True when the recorded process still exists (and is not a zombie) with the same start time."""
    state = process_state(record.pid)
    return state is not None and state not in {"Z", "X"} and start_ticks(record.pid) == record.start_ticks


def is_paused(record: ProcessRecord) -> bool:
    return is_running(record) and process_state(record.pid) in {"T", "t"}


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_gone(record: ProcessRecord, timeout_s: float) -> bool:
    """Wait until the process has exited; True when it did within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_running(record):
            return True
        time.sleep(0.02)
    _reap(record.pid)
    return not is_running(record)


def signal_group(record: ProcessRecord, sig: signal.Signals) -> bool:
    """Send ``sig`` to the record's process group (its own session); False when it is gone."""
    if not is_running(record):
        return False
    try:
        os.killpg(record.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(record.pid, sig)
    return True


def terminate(record: ProcessRecord, grace_s: float) -> None:
    """SIGTERM, SIGCONT (a paused process cannot handle SIGTERM), then SIGKILL after ``grace_s``."""
    if not signal_group(record, signal.SIGTERM):
        _reap(record.pid)
        return
    signal_group(record, signal.SIGCONT)
    if wait_gone(record, grace_s):
        return
    signal_group(record, signal.SIGKILL)
    wait_gone(record, 5.0)
