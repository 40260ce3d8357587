"""The runner process's control: why and when it stops, and the loop that reads its commands.

Commands come as lines on stdin and are answered as JSON lines on stdout, in the protocol of
``scenarios.load.protocol`` (parsed and validated there, as the driver builds them). A process stops
for the first of: a ``stop`` command, SIGTERM/SIGINT, its ``--max-duration``, or its parent's death
(so an engine killed with SIGKILL leaves no load behind).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.os

from core.errors import UsageError
from scenarios.load.protocol import Event, Stop, event_line, parse_command

PARENT_POLL_S = 0.25

log = logging.getLogger("scenarios.locust_runner")


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
        """Stop on SIGTERM/SIGINT, after ``max_duration_s``, and when the parent process dies."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, lambda: gevent.spawn(self.stop, "signal"))
        gevent.spawn_later(max_duration_s, self.stop, "max-duration")
        # The parent is named by its spawner (--parent-pid): one killed before this process got here has
        # already left it to init, and the parent found now would be init, watched forever.
        gevent.spawn(self._watch_parent, parent_pid if parent_pid is not None else os.getppid())

    def _watch_parent(self, parent: int) -> None:
        while os.getppid() == parent:
            gevent.sleep(PARENT_POLL_S)
        self.stop("parent-died")


def emit(event: Event, **fields: Any) -> None:
    """One JSON line on stdout for the driver."""
    try:
        print(event_line(event, **fields), flush=True)
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
    """Apply one stdin line; a refused one is answered with an ``error`` event and the runner goes on."""
    try:
        command = parse_command(line)
    except UsageError as error:
        emit(Event.ERROR, message=str(error))
        return
    if command is None:
        return
    if isinstance(command, Stop):
        control.stop("command")
        return
    rate = default_rate if command.rate is None else command.rate
    apply_users(command.users, rate)
    emit(Event.USERS, users=command.users, rate=rate, t=time.monotonic(), wall=time.time())
