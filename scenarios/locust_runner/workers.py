"""A Locust master's worker processes: spawned with the master's own arguments, awaited, watched, stopped.

Each worker is ``python -m scenarios.locust_runner`` again, with ``--worker --master-port P
--worker-index I``, in the master's process group (so the driver's signal to the group reaches it)
and with its stdout discarded: only the master speaks the protocol to the driver.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import gevent
from locust.env import Environment
from locust.runners import MasterRunner

from core.errors import ExitCode
from scenarios.load.protocol import RUNNER_MODULE

from .commands import PARENT_POLL_S, Control

WORKER_CONNECT_TIMEOUT_S = 30.0
WORKER_EXIT_TIMEOUT_S = 10.0

log = logging.getLogger("scenarios.locust_runner")


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
