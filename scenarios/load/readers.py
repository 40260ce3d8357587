"""The runner process's output, read back in the engine: its stdout as events, its record files as records.

    runner stdout ── {"event": ...} lines ──▶ EventReader (a thread) ──▶ queue ──▶ LoadDriver waits
    <records>/<worker-id>.jsonl ◀── one file per process that sends requests ──▶ RecordReader.read_new()

Both only read: the runner writes its events (``scenarios.load.protocol``) and records
(``scenarios.records``) whether anyone reads them or not.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import IO

from scenarios.records import RequestRecord

from .protocol import Event, RunnerEvent, parse_event


class EventReader:
    """The thread that pumps the runner's stdout into events, and the waits on them.

    ``None`` in the queue marks the end of the stream (the runner and its workers have exited); a wait
    that meets it puts it back, so every later wait sees the end too.
    """

    def __init__(self, stdout: IO[bytes]) -> None:
        self._stdout = stdout
        self._events: queue.Queue[RunnerEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, name="load-runner-stdout", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        """Wait for the end of the stream, at most ``timeout_s``."""
        self._thread.join(timeout_s)

    def wait(self, kinds: Collection[Event], timeout_s: float) -> RunnerEvent | None:
        """The next event of one of ``kinds``, or a ``stopped`` event if that comes first (events of
        other kinds are dropped); None when the stream ended first. TimeoutError when neither came
        within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no event within {timeout_s} s")
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is None:
                self._events.put(None)  # keep the end marker for later waits
                return None
            if event.kind is Event.STOPPED or event.kind in kinds:
                return event

    def pending(self) -> list[RunnerEvent]:
        """Every event that came and was not waited for, without blocking (the end marker is consumed)."""
        out: list[RunnerEvent] = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return out
            if event is not None:
                out.append(event)

    def _pump(self) -> None:
        """Turn the runner's stdout lines into events; ``None`` marks the end of the stream."""
        for raw in self._stdout:
            event = parse_event(raw)
            if event is not None:
                self._events.put(event)
        self._events.put(None)


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
