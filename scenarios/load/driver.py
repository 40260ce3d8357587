"""The driver of the Locust runner process: starts it, sends it commands, waits for its events, stops it.

Locust monkey-patches its whole process with gevent, so it never runs here: ``LoadDriver`` starts
``python -m scenarios.locust_runner`` as a child and talks to it over pipes, in the protocol of
``scenarios.load.protocol``; requests come back as JSON lines that ``scenarios.load.readers.RecordReader``
tails. This module imports nothing from Locust or gevent.

    engine process                          runner process (own session)         workers (optional)
    LoadDriver ── stdin: "users N [r]" ───▶ Environment + local/master runner ──▶ worker runners
               ◀── stdout: {"event": ...} ──
    RecordReader ◀── <records>/<worker-id>.jsonl ◀── one file per process that sends requests

The runner also stops by itself after ``max_duration_s``, when its parent process dies, and on
SIGTERM/SIGINT; the driver's ``stop()`` escalates to SIGTERM then SIGKILL on the runner's process
group (workers included) if the polite way does not work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import HarnessError, InfrastructureError, UsageError
from core.processes import ProcessRecord, is_running, start_ticks, terminate, wait_gone
from core.settings import PROJECT_ROOT

from .protocol import RUNNER_MODULE, Event, RunnerEvent, SetUsers, Stop
from .readers import EventReader
from .spec import LoadSpec


class LoadDriver:
    """Starts, steers and stops one Locust runner process for ``spec``, writing to ``records_dir``.

    Use one records directory per driver: the files are named after the runner's processes
    (``local``, ``worker-0``...), and a second runner in the same directory would append to them.
    """

    def __init__(
        self,
        spec: LoadSpec,
        records_dir: Path,
        *,
        log_path: Path | None = None,
        python: str = sys.executable,
        ready_timeout_s: float = 30.0,
        command_timeout_s: float = 10.0,
        stop_timeout_s: float = 20.0,
    ) -> None:
        self.spec = spec
        self.records_dir = records_dir
        self.log_path = log_path or records_dir / "locust-runner.log"
        self._python = python
        self._ready_timeout_s = ready_timeout_s
        self._command_timeout_s = command_timeout_s
        # Stopping lets users drain, then the master waits for its workers: allow for both.
        self._stop_timeout_s = max(stop_timeout_s, spec.drain_s + 15.0)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: EventReader | None = None
        self._lock = threading.Lock()
        self.ready: Mapping[str, Any] = {}
        self.stopped: Mapping[str, Any] | None = None
        self.workers: list[ProcessRecord] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Mapping[str, Any]:
        """Start the runner and wait for its ready line; returns that line's fields."""
        if self._proc is not None:
            raise UsageError("this load driver was already started")
        self.records_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        # Named, not found: a harness killed before the runner looks would leave it watching init.
        command = [self._python, "-m", RUNNER_MODULE, *self.spec.runner_args(self.records_dir),
                   "--parent-pid", str(os.getpid())]
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                    cwd=PROJECT_ROOT, start_new_session=True,  # its own group: one signal reaches its workers
                )
            except OSError as error:
                raise InfrastructureError(f"could not start the load runner ({self._python}): {error}") from None
        stdout = self._proc.stdout
        assert stdout is not None
        self._reader = EventReader(stdout)
        self._reader.start()
        try:
            event = self._wait_event({Event.READY}, self._ready_timeout_s, "to be ready")
        except BaseException:
            self.stop()
            raise
        self.ready = event.data
        for worker in event.data.get("workers", []):
            pid = int(worker["pid"])
            ticks = start_ticks(pid)
            if ticks is not None:
                self.workers.append(ProcessRecord(str(worker["id"]), pid, ticks, 0, str(self.log_path)))
        return self.ready

    def set_users(self, users: int, rate: float | None = None) -> float:
        """Change the target user count; returns the runner's monotonic time when it applied it."""
        line = SetUsers(users, rate).line()  # validated before anything is sent
        self._send(line)
        event = self._wait_event({Event.USERS, Event.ERROR}, self._command_timeout_s, f"to apply {line!r}")
        if event.kind is Event.ERROR:
            raise UsageError(f"load runner refused {line!r}: {event.data.get('message')}")
        return float(event.data["t"])

    def stop(self) -> None:
        """Stop the load and every process it started; safe to call more than once."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                try:
                    self._send(Stop().line())
                except InfrastructureError:
                    pass
                try:
                    proc.wait(self._stop_timeout_s)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(5.0)
                    except subprocess.TimeoutExpired:
                        self._signal_group(proc.pid, signal.SIGKILL)
                        proc.wait(5.0)
            for worker in self.workers:
                if not wait_gone(worker, 5.0):
                    terminate(worker, grace_s=2.0)
            self._close_pipes(proc)
            self._drain_stopped()

    def wait(self, timeout_s: float) -> int | None:
        """Wait for the runner to exit by itself; its exit code, or None if it still runs."""
        if self._proc is None:
            return None
        try:
            code = self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        self._drain_stopped()
        return code

    def __enter__(self) -> LoadDriver:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- facts -----------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def alive_pids(self) -> list[int]:
        """The runner's and its workers' PIDs that still run (zombies count as gone)."""
        out = [worker.pid for worker in self.workers if is_running(worker)]
        if self._proc is not None and self._proc.poll() is None:
            out.insert(0, self._proc.pid)
        return out

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- plumbing --------------------------------------------------------------------------------

    def _wait_event(self, kinds: set[Event], timeout_s: float, what: str) -> RunnerEvent:
        reader = self._reader
        if reader is None:
            raise UsageError("the load driver was not started")
        try:
            event = reader.wait(kinds, timeout_s)
        except TimeoutError:
            raise self._failure(f"did not answer within {timeout_s} s waiting {what}") from None
        if event is None:
            self._settle()
            raise self._failure(f"exited while waiting {what}")
        if event.kind is Event.STOPPED:
            self.stopped = event.data
            raise self._failure(f"stopped ({event.data.get('reason')}) while waiting {what}")
        return event

    def _drain_stopped(self) -> None:
        if self._reader is None:
            return
        for event in self._reader.pending():
            if event.kind is Event.STOPPED:
                self.stopped = event.data

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise UsageError("the load driver was not started")
        try:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._failure(f"could not be sent {line!r}") from None

    def _failure(self, what: str) -> HarnessError:
        code = self.returncode
        status = "" if code is None else f" (exit code {code})"
        tail = self.stderr_tail()
        detail = f"; its log {self.log_path} ends with:\n{tail}" if tail else ""
        message = f"load runner {what}{status}{detail}"
        # Exit code 2 is the runner refusing its arguments, which the spec should have caught first.
        return UsageError(message) if code == 2 else InfrastructureError(message)

    def _close_pipes(self, proc: subprocess.Popen[bytes]) -> None:
        if self._reader is not None:
            self._reader.join(5.0)  # ends at EOF, once the runner (and its workers) have exited
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except OSError:
                    pass

    def _settle(self) -> None:
        """Give a runner whose stdout closed a moment to exit, so its exit code can be reported."""
        if self._proc is not None:
            try:
                self._proc.wait(2.0)
            except subprocess.TimeoutExpired:
                pass

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

