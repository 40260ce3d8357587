"""The control protocol between ``LoadDriver`` and the Locust runner process, defined once for both sides.

One line each way:

    stdin   ``users N [RATE]`` change the target user count (spawn/stop RATE users per second)
            ``stop``           stop the load, the workers, and exit
    stdout  ``{"event": "ready", ...}``   once, when load has been started (``users`` may be 0)
            ``{"event": "users", "users": N, "rate": R, "t": ...}``  a ``users`` command was applied
            ``{"event": "error", "message": ...}``  a command was refused; the runner keeps going
            ``{"event": "stopped", "reason": ..., "t": ...}``  last line before exit

The driver (``scenarios.load.driver``) builds commands as ``SetUsers``/``Stop`` and reads events with
``parse_event``; the runner (``scenarios.locust_runner``) reads commands with ``parse_command`` and
writes events with ``event_line``. A command is validated when it is built, on either side, with the
load's own bounds (``scenarios.load.spec``): the driver refuses before sending what the runner would
refuse after reading it. This module imports nothing from Locust or gevent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, TypeAlias

from core.errors import UsageError

from .spec import check_rate, check_users

# What the driver runs as ``python -m``; the runner starts its workers the same way.
RUNNER_MODULE = "scenarios.locust_runner"


class Command(Enum):
    """The first word of a command line on the runner's stdin."""

    USERS = "users"
    STOP = "stop"


class Event(Enum):
    """The ``event`` field of a JSON line on the runner's stdout."""

    READY = "ready"
    USERS = "users"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SetUsers:
    """``users N [RATE]``: change the target user count; no rate means the runner's spawn rate."""

    users: int
    rate: float | None = None
    command: ClassVar[Command] = Command.USERS

    def __post_init__(self) -> None:
        check_users(self.users)
        if self.rate is not None:
            check_rate(self.rate)

    def line(self) -> str:
        words = f"{self.command.value} {self.users}"
        return words if self.rate is None else f"{words} {self.rate!r}"


@dataclass(frozen=True)
class Stop:
    """``stop``: stop the load, the workers, and exit."""

    command: ClassVar[Command] = Command.STOP

    def line(self) -> str:
        return self.command.value


RunnerCommand: TypeAlias = SetUsers | Stop


def parse_command(line: str) -> RunnerCommand | None:
    """The command a stdin line holds; None for a blank line, UsageError (the reason) for anything else."""
    words = line.split()
    if not words:
        return None
    if words == [Command.STOP.value]:
        return Stop()
    if words[0] == Command.USERS.value and len(words) in {2, 3}:
        try:
            users = int(words[1])
            rate = float(words[2]) if len(words) == 3 else None
        except ValueError:
            raise UsageError(f"bad number in {line!r}") from None
        return SetUsers(users, rate)
    raise UsageError(f"unknown command {line!r} (expected 'users N [RATE]' or 'stop')")


@dataclass(frozen=True)
class RunnerEvent:
    """One stdout line of the runner: its kind and all of its fields (``event`` included)."""

    kind: Event
    data: Mapping[str, Any]


def event_line(kind: Event, **fields: Any) -> str:
    """The stdout line (without its newline) announcing ``kind`` with ``fields``."""
    return json.dumps({"event": kind.value, **fields})


def parse_event(raw: bytes | str) -> RunnerEvent | None:
    """The event a stdout line holds; None for anything else (a stray print, an unknown event)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    try:
        kind = Event(data["event"])
    except ValueError:
        return None
    return RunnerEvent(kind, data)
