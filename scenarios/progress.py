"""The live progress view: which scenario and step, elapsed time, request rate, errors, current mode.

It listens to the journal and, once a second, reads the records and the observer; on a terminal it
redraws one line, elsewhere (CI logs) it prints a line per step and per scenario outcome.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from core.journal import Event

from .context import RunContext


class Progress:
    def __init__(self, context: RunContext, total: int, stream: TextIO = sys.stdout) -> None:
        self._context = context
        self._total = total
        self._stream = stream
        self._tty = stream.isatty()
        self._index = 0
        self._scenario = ""
        self._step = ""
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        context.journal.subscribe(self.on_event)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._tty:
            self._stream.write("\n")

    def on_event(self, event: Event) -> None:
        data = event.data
        if event.type == "scenario_started":
            self._index, self._scenario, self._started = int(data["index"]), str(data["name"]), event.monotonic
            self._line(f"[{self._index}/{self._total}] {self._scenario}", final=True)
        elif event.type == "step_started":
            self._step = f"{data['keyword']} {data['text']}"
            if not self._tty:
                self._line(f"    {self._step}", final=True)
        elif event.type == "step_finished" and data.get("status") != "passed":
            self._line(f"    {str(data.get('status')).upper()}: {data.get('message')}", final=True)
        elif event.type == "scenario_finished":
            self._line(f"  -> {str(data['outcome']).upper()} in {data['duration_s']:.1f}s", final=True)
            self._scenario = ""

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            if not self._tty or not self._scenario:
                continue
            now = time.monotonic()
            recent = self._context.records(since=now - 1.0) if self._context.scenario else []
            errors = sum(not r.ok for r in recent)
            latest = self._context.observer.latest()
            mode = latest.mode if latest else "?"
            self._line(f"  {now - self._started:5.1f}s  {len(recent):4d} req/s  err {errors / len(recent) * 100 if recent else 0:4.1f}%"
                       f"  mode {mode:<20}  {self._step[:60]}")

    def _line(self, text: str, final: bool = False) -> None:
        if self._tty:
            self._stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
