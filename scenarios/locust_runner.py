"""The Locust process: sends /chat (and /chat/stream) load and writes one RequestRecord line per request.

Run by ``scenarios.load.LoadDriver`` as ``python -m scenarios.locust_runner --host URL --records DIR``;
this is the only module that imports Locust, because importing it monkey-patches the whole process
with gevent. With ``--workers N`` it becomes a Locust master on 127.0.0.1 and spawns N worker
processes (``--worker --master-port P --worker-index I``) that do the sending.

Each process that sends requests appends to ``<records>/<worker-id>.jsonl`` (``local`` or
``worker-I``), flushed every 0.1 s. Every request gets a line: status 0 with the exception's name
when no response came (``Timeout`` for the request deadline), and ``Cancelled`` for a request still
in flight when its user was stopped (users being stopped first get ``--drain`` seconds to finish
the request they are making, so a healthy system shows no cancellations). With ``--stream-share S``
that share of the users ask on ``/chat/stream`` instead, read by ``scenarios.stream_user``. The
control protocol (stdin commands, stdout events) is described in ``scenarios/load.py``.
"""

from __future__ import annotations

# Locust patches the process with gevent when imported: it must come before anything else.
import locust  # isort: skip

import argparse
import fcntl
import itertools
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gevent
import gevent.event
import gevent.os
from gevent import GreenletExit
from locust import task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from core.errors import ExitCode, UsageError
from scenarios.load import MAX_USERS, MAX_WORKERS, PROJECT_ROOT, RUNNER_MODULE, check_host, is_streaming
from scenarios.records import RequestRecord
from scenarios.sse import StreamTally
from scenarios.stream_user import ask_stream, error_name

BUNDLED_QUESTIONS = PROJECT_ROOT / "system_under_test" / "vectordb" / "data" / "eval_questions.jsonl"
# None sends no header (the gateway's default language); the others mix plain and weighted forms.
ACCEPT_LANGUAGES: tuple[str | None, ...] = ("en", "en-US,en;q=0.9", "ja", "ja-JP,ja;q=0.9,en;q=0.8", None)
FLUSH_INTERVAL_S = 0.1
PARENT_POLL_S = 0.25
WORKER_CONNECT_TIMEOUT_S = 30.0
WORKER_EXIT_TIMEOUT_S = 10.0
WORKER_EXTRA_DURATION_S = 30.0  # a worker's own bound backs up the master's

DESCRIPTION = "Send /chat load with Locust and write one RequestRecord JSON line per request."

log = logging.getLogger("scenarios.locust_runner")


@dataclass(frozen=True)
class Question:
    text: str
    lang: str  # "en" or "ja"


@dataclass(frozen=True)
class RunnerConfig:
    host: str
    records: Path
    users: int
    spawn_rate: float
    workers: int
    seed: int
    wait_min_s: float
    wait_max_s: float
    timeout_s: float
    max_duration_s: float
    repeat_ratio: float
    drain_s: float
    questions: Path
    stream_share: float
    worker_index: int | None  # set in a worker process
    parent_pid: int | None  # the process whose death stops this one (None: the parent found at start)

    @property
    def worker_id(self) -> str:
        return "local" if self.worker_index is None else f"worker-{self.worker_index}"


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON-lines file (``question``, optional ``lang`` or ``passage_id`` ending in
    ``-en``/``-ja``) or a plain text file with one question per line."""
    out: list[Question] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            data = json.loads(line)
            text = str(data["question"])
            lang = str(data.get("lang") or str(data.get("passage_id", "")).rpartition("-")[2])
        else:
            text, lang = line, ""
        if lang not in {"en", "ja"}:
            lang = "en" if text.isascii() else "ja"
        out.append(Question(text, lang))
    if not out:
        raise UsageError(f"questions file {path} holds no questions")
    return out


class RecordWriter:
    """Appends records to one file in batches: one ``write`` of whole lines every ``FLUSH_INTERVAL_S``."""

    def __init__(self, path: Path, worker: str) -> None:
        self.path, self.worker = path, worker
        self.count = 0
        self._pending: list[str] = []
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._flusher = gevent.spawn(self._flush_loop)

    def write(self, record: RequestRecord) -> None:
        self._pending.append(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self.count += 1

    def flush(self) -> None:
        if not self._pending:
            return
        data = "".join(self._pending).encode()
        self._pending = []
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def close(self) -> None:
        self._flusher.kill()
        self.flush()
        os.close(self._fd)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()


class ChatUser(FastHttpUser):
    """One simulated person asking questions; its choices come from its own seeded rng."""

    abstract = True
    config: ClassVar[RunnerConfig]
    writer: ClassVar[RecordWriter | None]
    questions: ClassVar[Sequence[Question]]
    indexes: ClassVar[Iterator[int]]

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        cfg = self.config
        self.index = next(self.indexes)
        self.rng = random.Random(f"{cfg.seed}:{cfg.worker_index}:{self.index}")
        self.user_id = f"load-{cfg.worker_id}-{self.index}"
        self.previous: Question | None = None
        self.streaming = is_streaming(self.index, cfg.stream_share)

    def wait_time(self) -> float:
        return self.rng.uniform(self.config.wait_min_s, self.config.wait_max_s)

    @task
    def chat(self) -> None:
        if self.previous is not None and self.config.repeat_ratio and self.rng.random() < self.config.repeat_ratio:
            question, name = self.previous, "chat-repeat"
        else:
            question, name = self.rng.choice(self.questions), "chat"
        self.previous = question
        language = self.rng.choice(ACCEPT_LANGUAGES)
        headers = {"Accept-Language": language} if language else {}
        if self.streaming:
            self.ask_stream(question, name.replace("chat", "chat-stream", 1), headers)
        else:
            self.ask(question, name, headers)

    def ask_stream(self, question: Question, name: str, headers: dict[str, str]) -> None:
        def write(tally: StreamTally) -> None:
            if self.writer is not None:
                self.writer.write(tally.record(name, self.config.worker_id, self.user_id))

        payload = {"message": question.text, "user_id": self.user_id}
        ask_stream(self.client, payload, headers, name, self.config.timeout_s, write)

    def ask(self, question: Question, name: str, headers: dict[str, str]) -> None:
        payload = {"message": question.text, "user_id": self.user_id}
        started, wall = time.monotonic(), time.time()
        deadline = gevent.Timeout(self.config.timeout_s)
        deadline.start()
        status, error, body = 0, None, b""
        try:
            response = self.client.post("/chat", json=payload, headers=headers, name=name)
            status = int(response.status_code or 0)
            if status:
                body = response.content or b""
            else:
                error = error_name(getattr(response, "error", None))
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            status, error = 0, "Timeout"
        except GreenletExit:
            self.record(started, wall, 0, "Cancelled", b"", name)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to get a response is a data point
            status, error = 0, error_name(exc)
        finally:
            deadline.close()
        self.record(started, wall, status, error, body, name)

    def record(self, started: float, wall: float, status: int, error: str | None, body: bytes, name: str) -> None:
        latency = time.monotonic() - started
        mode, notice, cached = None, False, False
        if status:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
                if status == 200:
                    error = "JSONDecodeError"
            if isinstance(data, dict):
                mode = data["mode"] if isinstance(data.get("mode"), str) else None
                notice, cached = bool(data.get("notice")), bool(data.get("cached"))
        if self.writer is not None:
            self.writer.write(RequestRecord(
                t=started, wall=wall, latency_s=latency, status=status, mode=mode, notice=notice,
                cached=cached, error=error, name=name, worker=self.config.worker_id, user=self.user_id,
            ))


def make_user_class(cfg: RunnerConfig, writer: RecordWriter | None) -> type[ChatUser]:
    """A concrete user class for this run (named ``ChatUser`` on master and workers alike)."""
    attrs: dict[str, Any] = {
        "abstract": False, "host": cfg.host, "config": cfg, "writer": writer,
        "questions": load_questions(cfg.questions), "indexes": itertools.count(),
        # The per-request deadline is enforced above; socket timeouts only back it up.
        "network_timeout": cfg.timeout_s + 1.0, "connection_timeout": cfg.timeout_s + 1.0,
        "__module__": __name__,
    }
    return type("ChatUser", (ChatUser,), attrs)


class Control:
    """Why and when this process stops: the first reason wins."""

    def __init__(self) -> None:
        self.done: gevent.event.AsyncResult = gevent.event.AsyncResult()

    def stop(self, reason: str) -> None:
        if not self.done.ready():
            self.done.set(reason)

    def wait(self) -> str:
        return str(self.done.get())

    def watch(self, max_duration_s: float, parent_pid: int | None) -> None:
        """Stop on SIGTERM/SIGINT, after ``max_duration_s``, and when the parent process dies.

        The parent is named by its spawner (``--parent-pid``): one killed before this process got here
        has already left it to init, and the parent found then would be init, watched forever."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, lambda: gevent.spawn(self.stop, "signal"))
        gevent.spawn_later(max_duration_s, self.stop, "max-duration")
        gevent.spawn(self._watch_parent, parent_pid if parent_pid is not None else os.getppid())

    def _watch_parent(self, parent: int) -> None:
        while os.getppid() == parent:
            gevent.sleep(PARENT_POLL_S)
        self.stop("parent-died")


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout for the driver."""
    try:
        print(json.dumps({"event": event, **fields}), flush=True)
    except (BrokenPipeError, ValueError):
        pass  # the reader is gone; the parent watch ends the run


def read_commands(control: Control, apply_users: Callable[[int, float], None], default_rate: float) -> None:
    """Read ``users N [RATE]`` and ``stop`` lines from stdin until EOF (EOF alone stops nothing)."""
    fd = sys.stdin.fileno()
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    gevent.os.make_nonblocking(fd)
    buffer = b""
    try:
        while True:
            chunk = gevent.os.nb_read(fd, 4096)
            if not chunk:
                log.info("stdin closed: no more commands")
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                handle_command(raw.decode(errors="replace"), control, apply_users, default_rate)
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)  # a terminal must not stay non-blocking


def handle_command(
    line: str, control: Control, apply_users: Callable[[int, float], None], default_rate: float
) -> None:
    words = line.split()
    if not words:
        return
    if words == ["stop"]:
        control.stop("command")
        return
    if words[0] == "users" and len(words) in {2, 3}:
        try:
            users = int(words[1])
            rate = float(words[2]) if len(words) == 3 else default_rate
        except ValueError:
            emit("error", message=f"bad number in {line!r}")
            return
        if not 0 <= users <= MAX_USERS:
            emit("error", message=f"users must be between 0 and {MAX_USERS}, got {users}")
        elif not rate > 0:
            emit("error", message=f"rate must be positive, got {rate}")
        else:
            apply_users(users, rate)
            emit("users", users=users, rate=rate, t=time.monotonic(), wall=time.time())
        return
    emit("error", message=f"unknown command {line!r} (expected 'users N [RATE]' or 'stop')")


# -- the three kinds of process -----------------------------------------------------------------


def run_local(cfg: RunnerConfig) -> int:
    control = Control()
    control.watch(cfg.max_duration_s, cfg.parent_pid)
    writer = RecordWriter(cfg.records / f"{cfg.worker_id}.jsonl", cfg.worker_id)
    env = Environment(user_classes=[make_user_class(cfg, writer)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner: LocalRunner = env.create_local_runner()
    runner.start(cfg.users, cfg.spawn_rate)
    emit("ready", pid=os.getpid(), mode="local", users=cfg.users, spawn_rate=cfg.spawn_rate,
         worker_ids=[cfg.worker_id], workers=[], records=str(cfg.records), t=time.monotonic(),
         locust_version=locust.__version__)
    gevent.spawn(read_commands, control, lambda users, rate: runner.start(users, rate), cfg.spawn_rate)
    reason = control.wait()
    log.info("stopping (%s)", reason)
    runner.quit()
    writer.close()
    emit("stopped", reason=reason, t=time.monotonic(), requests={cfg.worker_id: writer.count})
    return ExitCode.OK


def run_master(cfg: RunnerConfig, argv: Sequence[str]) -> int:
    control = Control()
    control.watch(cfg.max_duration_s, cfg.parent_pid)
    env = Environment(user_classes=[make_user_class(cfg, None)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner, port = bind_master(env)
    workers = [spawn_worker(argv, port, index) for index in range(cfg.workers)]
    try:
        if not wait_for_workers(runner, workers, control):
            log.error("the %d load workers did not all connect within %s s", cfg.workers, WORKER_CONNECT_TIMEOUT_S)
            runner.quit()
            return ExitCode.INFRASTRUCTURE
        starter = gevent.spawn(runner.start, cfg.users, cfg.spawn_rate)

        def apply_users(users: int, rate: float) -> None:
            # The master dispatches synchronously; a new target replaces a dispatch still in progress.
            nonlocal starter
            starter.kill()
            starter = gevent.spawn(runner.start, users, rate)

        emit("ready", pid=os.getpid(), mode="distributed", users=cfg.users, spawn_rate=cfg.spawn_rate,
             worker_ids=[f"worker-{i}" for i in range(cfg.workers)], master_port=port,
             workers=[{"id": f"worker-{i}", "pid": proc.pid} for i, proc in enumerate(workers)],
             records=str(cfg.records), t=time.monotonic(), locust_version=locust.__version__)
        gevent.spawn(read_commands, control, apply_users, cfg.spawn_rate)
        gevent.spawn(watch_workers, workers, control)
        reason = control.wait()
        log.info("stopping (%s), with the workers", reason)
        starter.kill()
        runner.quit()  # tells the workers to quit
    finally:
        stop_workers(workers)
    emit("stopped", reason=reason, t=time.monotonic())
    return ExitCode.OK


def run_worker(cfg: RunnerConfig, master_port: int) -> int:
    control = Control()
    control.watch(cfg.max_duration_s + WORKER_EXTRA_DURATION_S, cfg.parent_pid)
    writer = RecordWriter(cfg.records / f"{cfg.worker_id}.jsonl", cfg.worker_id)
    env = Environment(user_classes=[make_user_class(cfg, writer)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner: WorkerRunner = env.create_worker_runner("127.0.0.1", master_port)

    def watch_runner() -> None:
        # The master's "quit" makes the runner kill its own greenlets: that is this worker's end.
        while len(runner.greenlet):
            gevent.sleep(PARENT_POLL_S)
        control.stop("master-quit")

    gevent.spawn(watch_runner)
    reason = control.wait()
    if len(runner.greenlet):
        runner.quit()
    writer.close()
    log.info("%s stopped (%s) after %d requests", cfg.worker_id, reason, writer.count)
    return ExitCode.OK


def bind_master(env: Environment) -> tuple[MasterRunner, int]:
    """A master on a free loopback port; a port taken between probing and binding is retried."""
    for _ in range(5):
        port = free_port()
        try:
            return env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port), port
        except SystemExit:  # Locust exits when the port is busy
            log.warning("master port %d was taken, trying another", port)
    raise SystemExit(ExitCode.INFRASTRUCTURE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn_worker(argv: Sequence[str], port: int, index: int) -> subprocess.Popen[bytes]:
    args = strip_option(strip_option(strip_option(list(argv), "--workers", 1), "--users", 1), "--parent-pid", 1)
    command = [sys.executable, "-m", RUNNER_MODULE, *args, "--worker", "--master-port", str(port),
               "--worker-index", str(index), "--parent-pid", str(os.getpid())]
    # Same process group as this master (the driver can signal the group); stdout stays the master's.
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def strip_option(argv: list[str], option: str, values: int) -> list[str]:
    out: list[str] = []
    skip = 0
    for arg in argv:
        if skip:
            skip -= 1
        elif arg == option:
            skip = values
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def wait_for_workers(runner: MasterRunner, workers: list[subprocess.Popen[bytes]], control: Control) -> bool:
    deadline = time.monotonic() + WORKER_CONNECT_TIMEOUT_S
    while len(runner.clients.ready) < len(workers):
        if time.monotonic() > deadline or control.done.ready() or any(p.poll() is not None for p in workers):
            return False
        gevent.sleep(0.05)
    return True


def watch_workers(workers: list[subprocess.Popen[bytes]], control: Control) -> None:
    """A worker that dies on its own takes its users with it: say so in the log, keep the rest going."""
    reported: set[int] = set()
    while not control.done.ready():
        for proc in workers:
            if proc.pid not in reported and proc.poll() is not None:
                reported.add(proc.pid)
                log.error("load worker pid %d exited with code %s", proc.pid, proc.returncode)
        gevent.sleep(PARENT_POLL_S)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
    for proc in workers:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(3.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> tuple[RunnerConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m scenarios.locust_runner", description=DESCRIPTION)
    parser.add_argument("--host", required=True, help="base URL of the system under test (loopback only)")
    parser.add_argument("--records", required=True, type=Path, help="directory for <worker-id>.jsonl records")
    parser.add_argument("--users", type=int, default=1, help=f"initial users (0..{MAX_USERS})")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started/stopped per second")
    parser.add_argument("--workers", type=int, default=0, help=f"worker processes (0..{MAX_WORKERS}, 0 = this one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-min", type=float, default=0.05, help="seconds between a user's requests, min")
    parser.add_argument("--wait-max", type=float, default=0.2, help="seconds between a user's requests, max")
    parser.add_argument("--timeout", type=float, default=40.0, help="per-request deadline in seconds")
    parser.add_argument("--max-duration", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--repeat-ratio", type=float, default=0.0, help="share of requests re-asking the last question")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds a stopped user may finish its request")
    parser.add_argument("--questions", type=Path, default=BUNDLED_QUESTIONS, help="JSON-lines or text questions")
    parser.add_argument("--stream-share", type=float, default=0.0, help="share of users asking on /chat/stream")
    parser.add_argument("--allow-host", action="append", default=[], help="a non-loopback host to allow")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process is no longer the parent (default: the parent at start)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--master-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_host(args.host, args.allow_host)
    if not 0 <= args.users <= MAX_USERS:
        raise UsageError(f"--users must be between 0 and {MAX_USERS}, got {args.users}")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 0 and {MAX_WORKERS}, got {args.workers}")
    if not args.spawn_rate > 0 or not args.timeout > 0 or not args.max_duration > 0:
        raise UsageError("--spawn-rate, --timeout and --max-duration must be positive")
    if not 0 <= args.wait_min <= args.wait_max:
        raise UsageError(f"--wait-min/--wait-max must satisfy 0 <= min <= max, got {args.wait_min}/{args.wait_max}")
    if not args.drain >= 0:
        raise UsageError(f"--drain must not be negative, got {args.drain}")
    if not 0 <= args.repeat_ratio <= 1:
        raise UsageError(f"--repeat-ratio must be between 0 and 1, got {args.repeat_ratio}")
    if not 0 <= args.stream_share <= 1:
        raise UsageError(f"--stream-share must be between 0 and 1, got {args.stream_share}")
    if args.worker and (args.master_port is None or args.worker_index is None):
        raise UsageError("--worker needs --master-port and --worker-index")
    if not args.questions.is_file():
        raise UsageError(f"questions file {args.questions} does not exist")
    args.records.mkdir(parents=True, exist_ok=True)
    cfg = RunnerConfig(
        host=args.host.rstrip("/"), records=args.records, users=args.users, spawn_rate=args.spawn_rate,
        workers=args.workers, seed=args.seed, wait_min_s=args.wait_min, wait_max_s=args.wait_max,
        timeout_s=args.timeout, max_duration_s=args.max_duration, repeat_ratio=args.repeat_ratio,
        drain_s=args.drain, questions=args.questions, stream_share=args.stream_share,
        worker_index=args.worker_index if args.worker else None, parent_pid=args.parent_pid,
    )
    return cfg, args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        cfg, args = parse_args(argv)
        load_questions(cfg.questions)  # refuse a bad file before anything starts
    except UsageError as error:
        print(f"locust_runner: error: {error}", file=sys.stderr, flush=True)
        return ExitCode.USAGE
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format=f"%(asctime)s {cfg.worker_id if args.worker else 'runner'}[%(process)d] %(name)s %(levelname)s: %(message)s",
    )
    if args.worker:
        return run_worker(cfg, int(args.master_port))
    if cfg.workers:
        return run_master(cfg, argv)
    return run_local(cfg)


if __name__ == "__main__":
    sys.exit(main())
