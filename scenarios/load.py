"""The engine's side of the load: a spec, a driver for the Locust runner process, and a record reader.

Locust monkey-patches its whole process with gevent, so it never runs here: ``LoadDriver`` starts
``python -m scenarios.locust_runner`` as a child and talks to it over pipes; requests come back as
JSON lines that ``RecordReader`` tails. This module imports nothing from Locust or gevent.

    engine process                          runner process (own session)         workers (optional)
    LoadDriver ── stdin: "users N [r]" ───▶ Environment + local/master runner ──▶ worker runners
               ◀── stdout: {"event": ...} ──
    RecordReader ◀── <records>/<worker-id>.jsonl ◀── one file per process that sends requests

The control protocol (one line each way):
    stdin   ``users N [RATE]`` change the target user count (spawn/stop RATE users per second)
            ``stop``           stop the load, the workers, and exit
    stdout  ``{"event": "ready", ...}``   once, when load has been started (``users`` may be 0)
            ``{"event": "users", "users": N, "rate": R, "t": ...}``  a ``users`` command was applied
            ``{"event": "error", "message": ...}``  a command was refused; the runner keeps going
            ``{"event": "stopped", "reason": ..., "t": ...}``  last line before exit

The runner also stops by itself after ``max_duration_s``, when its parent process dies, and on
SIGTERM/SIGINT; the driver's ``stop()`` escalates to SIGTERM then SIGKILL on the runner's process
group (workers included) if the polite way does not work.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

from core.errors import HarnessError, InfrastructureError, UsageError
from core.processes import ProcessRecord, is_running, start_ticks, terminate, wait_gone
from core.safety import check_host as check_allowed
from scenarios.records import RequestRecord

MAX_USERS = 1000
MAX_WORKERS = 16
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNNER_MODULE = "scenarios.locust_runner"


def host_of(url: str) -> str:
    """The host part of an http(s) URL (without IPv6 brackets); UsageError when it is not such a URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise UsageError(f"load host {url!r} is not a valid URL: {error}") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise UsageError(f"load host {url!r} must be an http:// or https:// URL with a host")
    return host


def check_host(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Refuse a load target that is not on this machine, unless it was allowed by name."""
    check_allowed(host_of(url), allow_hosts, "load")


@dataclass(frozen=True)
class LoadSpec:
    """What load to send, validated when built. ``workers=0`` runs a single Locust process."""

    host: str
    users: int = 10
    spawn_rate: float = 10.0
    workers: int = 0
    seed: int = 0
    wait_min_s: float = 0.05
    wait_max_s: float = 0.2
    timeout_s: float = 40.0
    max_duration_s: float = 600.0
    questions: Path | None = None
    repeat_ratio: float = 0.0  # share of requests that re-ask the user's previous question ("chat-repeat")
    drain_s: float = 2.0  # a stopped user may finish its request this long before it is cancelled
    stream_share: float = 0.0  # share of users asking on /chat/stream (1 = all), spread evenly over the users
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        check_host(self.host, self.allow_hosts)
        check_users(self.users)
        check_rate(self.spawn_rate)
        if not 0 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"load workers must be between 0 and {MAX_WORKERS}, got {self.workers}")
        if not 0 <= self.wait_min_s <= self.wait_max_s:
            raise UsageError(
                f"load wait time must satisfy 0 <= min <= max, got {self.wait_min_s}..{self.wait_max_s} s"
            )
        if not self.timeout_s > 0:
            raise UsageError(f"load request timeout must be positive, got {self.timeout_s} s")
        if not self.max_duration_s > 0:
            raise UsageError(f"load max duration must be positive, got {self.max_duration_s} s")
        if not self.drain_s >= 0:
            raise UsageError(f"load drain time must not be negative, got {self.drain_s} s")
        if not 0 <= self.repeat_ratio <= 1:
            raise UsageError(f"load repeat ratio must be between 0 and 1, got {self.repeat_ratio}")
        if not 0 <= self.stream_share <= 1:
            raise UsageError(f"load stream share must be between 0 and 1, got {self.stream_share}")
        if self.questions is not None and not self.questions.is_file():
            raise UsageError(f"questions file {self.questions} does not exist")

    def runner_args(self, records_dir: Path) -> list[str]:
        """The runner's command-line arguments for this spec."""
        args = [
            "--host", self.host, "--records", str(records_dir), "--users", str(self.users),
            "--spawn-rate", repr(self.spawn_rate), "--workers", str(self.workers), "--seed", str(self.seed),
            "--wait-min", repr(self.wait_min_s), "--wait-max", repr(self.wait_max_s),
            "--timeout", repr(self.timeout_s), "--max-duration", repr(self.max_duration_s),
            "--repeat-ratio", repr(self.repeat_ratio), "--drain", repr(self.drain_s),
        ]
        if self.stream_share:
            args += ["--stream-share", repr(self.stream_share)]
        if self.questions is not None:
            args += ["--questions", str(self.questions)]
        for host in sorted(self.allow_hosts):
            args += ["--allow-host", host]
        return args


def is_streaming(index: int, share: float) -> bool:
    """Whether a process's user number ``index`` (0, 1, ...) streams: spread evenly over the users, so
    any first N of them hold ``int(N * share)`` streaming ones, however the user count changes."""
    return int((index + 1) * share) > int(index * share)


def streaming_users(users: int, share: float) -> int:
    """How many of one process's ``users`` stream at ``share`` (workers each spread their own users)."""
    return int(users * share)


def check_users(users: int) -> None:
    if not 0 <= users <= MAX_USERS:
        raise UsageError(f"load users must be between 0 and {MAX_USERS}, got {users}")


def check_rate(rate: float) -> None:
    if not rate > 0:
        raise UsageError(f"load spawn rate must be positive, got {rate}")


class RecordReader:
    """Returns the requests appended to ``<dir>/*.jsonl`` since the previous call.

    Writers append whole lines, but a read can still catch a line half written: the bytes after the
    last newline stay unread until the newline arrives. A complete line that is not a record is
    counted in ``malformed_lines`` and skipped rather than ending a run.
    """

    def __init__(self, records_dir: Path) -> None:
        self.records_dir = records_dir
        self._offsets: dict[Path, int] = {}
        self.malformed_lines = 0

    def read_new(self) -> list[RequestRecord]:
        """New records from every file, ordered by start time."""
        out: list[RequestRecord] = []
        for path in sorted(self.records_dir.glob("*.jsonl")):
            out.extend(self._read_file(path))
        out.sort(key=lambda record: record.t)
        return out

    def _read_file(self, path: Path) -> list[RequestRecord]:
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as stream:
                if os.fstat(stream.fileno()).st_size < offset:
                    offset = 0  # replaced or truncated: start again
                stream.seek(offset)
                data = stream.read()
        except FileNotFoundError:
            self._offsets.pop(path, None)
            return []
        end = data.rfind(b"\n") + 1
        self._offsets[path] = offset + end
        records: list[RequestRecord] = []
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                records.append(RequestRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                self.malformed_lines += 1
        return records


@dataclass(frozen=True)
class RunnerEvent:
    kind: str
    data: Mapping[str, Any]


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
        self._pump_thread: threading.Thread | None = None
        self._events: queue.Queue[RunnerEvent | None] = queue.Queue()
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
        self._pump_thread = threading.Thread(target=self._pump, args=(stdout,), name="load-runner-stdout", daemon=True)
        self._pump_thread.start()
        try:
            event = self._wait_event({"ready"}, self._ready_timeout_s, "to be ready")
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
        check_users(users)
        if rate is not None:
            check_rate(rate)
        line = f"users {users}" if rate is None else f"users {users} {rate!r}"
        self._send(line)
        event = self._wait_event({"users", "error"}, self._command_timeout_s, f"to apply {line!r}")
        if event.kind == "error":
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
                    self._send("stop")
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

    def _pump(self, stdout: IO[bytes]) -> None:
        """Turn the runner's stdout lines into events; ``None`` marks the end of the stream."""
        for raw in stdout:
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("event"), str):
                self._events.put(RunnerEvent(data["event"], data))
        self._events.put(None)

    def _wait_event(self, kinds: set[str], timeout_s: float, what: str) -> RunnerEvent:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(f"did not answer within {timeout_s} s waiting {what}")
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is None:
                self._events.put(None)  # keep the end marker for later waits
                self._settle()
                raise self._failure(f"exited while waiting {what}")
            if event.kind == "stopped":
                self.stopped = event.data
                raise self._failure(f"stopped ({event.data.get('reason')}) while waiting {what}")
            if event.kind in kinds:
                return event

    def _drain_stopped(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if event is not None and event.kind == "stopped":
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
        if self._pump_thread is not None:
            self._pump_thread.join(5.0)  # ends at EOF, once the runner (and its workers) have exited
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

