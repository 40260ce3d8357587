"""The servers the harness starts: the services of a local system, Toxiproxy, the HTTP fault proxy and
Prometheus.

Each is started the same careful way, so it can always be found and stopped again:

    spawn()       its own session (our signals reach it and nothing else), output to a log file,
                  a ProcessRecord (PID + kernel start time) handed to ``on_spawn`` at once, so the
                  caller writes it to its state file before waiting: a harness killed while the
                  server starts leaves a record the next run stops it by
    wait_ready()  poll its readiness until it answers, it exits (the log's tail says why) or time runs out
    reap()        collect the exit status of a child we stopped, so it is not left a zombie

Errors are the caller's own ``InfrastructureError`` subclass, so a Toxiproxy that will not start is a
``ToxiproxyError`` and a Prometheus one a ``PrometheusError``, each naming the log.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from .errors import InfrastructureError
from .interrupts import shielded
from .processes import ProcessRecord, start_ticks, terminate

T = TypeVar("T")
ErrorType = Callable[[str], InfrastructureError]


class ServerProcess(subprocess.Popen[bytes]):
    """The ``Popen`` of a server, which may be dropped while the server runs on.

    Servers outlive the object that started them by design: ``harness up`` exits and leaves them
    running, and later runs find them through the state file and stop them by PID, which reaps them
    with ``os.waitpid`` behind this object's back. A plain ``Popen`` dropped before it saw an exit
    status warns (``ResourceWarning``, an error in the test suite) whether or not the process still
    runs; this one collects the status if there is one and otherwise lets the server run on.
    """

    def __del__(self) -> None:
        if getattr(self, "_child_created", False):  # False when the exec itself failed
            self.poll()


class RunningDaemon:
    """A helper server answering at ``url``. ``record`` is None when it was already running (reused),
    and then it is not ours to stop."""

    def __init__(self, url: str, version: str, record: ProcessRecord | None,
                 process: subprocess.Popen[bytes] | None = None) -> None:
        self.url, self.version, self.record = url, version, record
        self._process = process  # kept so the child is reaped, not left a zombie

    @property
    def owned(self) -> bool:
        return self.record is not None

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop it by PID if this harness started it (idempotent); a reused one is left alone."""
        if self.record is not None:
            terminate(self.record, grace_s)
        reap(self._process)


def spawn(name: str, command: Sequence[str], port: int, log_path: Path, error: ErrorType, *,
          cwd: Path | None = None, env: Mapping[str, str] | None = None,
          on_spawn: Callable[[ProcessRecord], None] | None = None) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start ``command`` detached, logging to ``log_path``; the process and the record to save for it.

    ``on_spawn`` gets the record before this returns, with Ctrl-C and SIGTERM held from the fork until
    it has run, so no interrupt falls between a server starting and the caller recording it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log, shielded():
        try:
            process = ServerProcess(
                list(command), cwd=cwd, env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: our signals reach it and nothing else
            )
        except OSError as exc:
            raise error(f"cannot run {command[0]}: {exc.strerror}") from None
        ticks = start_ticks(process.pid)
        record = ProcessRecord(name, process.pid, ticks if ticks is not None else -1, port, str(log_path))
        if on_spawn is not None:
            on_spawn(record)
    return process, record


def wait_ready(process: subprocess.Popen[bytes], ready: Callable[[], T | None], *, label: str, what: str,
               timeout_s: float, log_path: Path, error: ErrorType, poll_s: float = 0.02) -> T:
    """``ready()``'s first answer that is not None; ``error`` when the process exits or time runs out.

    ``label`` names the server, ``what`` its readiness check, e.g. ``"GET http://127.0.0.1:8474/version"``."""
    deadline = time.monotonic() + timeout_s
    while True:
        code = process.poll()
        if code is not None:
            raise error(f"{label} exited with code {code} during start-up: {log_tail(log_path)} (log: {log_path})")
        answer = ready()
        if answer is not None:
            return answer
        if time.monotonic() >= deadline:
            raise error(f"{label} did not answer {what} within {timeout_s:g}s (log: {log_path})")
        time.sleep(poll_s)


def reap(process: subprocess.Popen[bytes] | None, timeout_s: float = 5.0) -> None:
    """Collect the exit status of a child that was just stopped (dead or dying: this only waits)."""
    if process is None:
        return
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass


def log_tail(path: Path, lines: int = 3) -> str:
    """The last non-empty lines of a log, joined on one line for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "no log"
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) or "empty log"
