"""The run's journal: an append-only list of timestamped events that reports and assertions read.

Every event carries both clocks: wall time (UTC) so people can line it up with logs and dashboards,
and monotonic time so durations are right even if the wall clock jumps. Listeners (the live progress
view, a JSONL file sink) are called synchronously on each event; the engine never formats output.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Listener = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    type: str
    wall: datetime
    monotonic: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "wall": self.wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "monotonic": round(self.monotonic, 6),
            **self.data,
        }


class Journal:
    """Thread-safe: faults such as flapping record events from their own threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: list[Event] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def record(self, type_: str, **data: Any) -> Event:
        event = Event(type_, datetime.now(UTC), self._clock(), data)
        with self._lock:
            self._events.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)
        return event

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]


class JsonlSink:
    """Appends each event as one JSON line, flushed at once, so a crash loses nothing written so far."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._file.write(json.dumps(event.to_json(), ensure_ascii=False, default=str) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
