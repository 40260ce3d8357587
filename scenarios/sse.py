"""Reading a streamed chat answer: Server-Sent Events parsing, and the tally that makes it a record.

Pure code with no I/O, so the Locust side (``scenarios.stream_user``) only moves bytes and clocks, and
what an answer *means* is unit-tested on recorded bytes. The stream is the gateway's ``POST /chat/stream``:

    event: meta    data: {"request_id", "mode", "notice", "sources", "cached"}   once the mode is known
    event: token   data: {"text": "..."}                                          repeated
    event: done    data: {"outcome": "complete" | "partial", "mode", "notice", "tokens"}

How an answer ends decides its ``outcome``:

    done complete|partial        what the done event says (its mode and notice win over meta's)
    event: error                 error, ErrorEvent        (a provider-style in-band failure)
    connection ends, no done     error, StreamCut         (cut, reset, or a clean end without done)
    client bound reached         error, Timeout           (a stalled stream: the harness gave up)
    bad JSON in meta/token/done  error, MalformedEvent    (read on to the end, so latency stays true)
    not 200 / not event-stream   error (status says why) / NotAStream

Parsing follows the WHATWG rules that matter here: lines end with LF or CRLF, ``field: value`` with one
optional space after the colon, ``data`` lines joined by LF, lines starting with ``:`` are comments
(keep-alive pings), and a blank line dispatches the event. A lone CR as a line end is not supported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .records import (
    COMPLETE,
    ERROR_EVENT,
    MALFORMED_EVENT,
    NOT_A_STREAM,
    PARTIAL,
    STREAM_CUT,
    STREAM_ERROR,
    RequestRecord,
)


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" when the event named no type
    data: str


class SseParser:
    """Turns bytes, split anywhere (mid-line, mid-UTF-8 character), into complete events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._fields = False  # a field was seen since the last dispatch

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by ``chunk``; an unfinished line waits for the next chunk."""
        self._buffer += chunk
        events: list[SseEvent] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            event = self._line(raw.removesuffix(b"\r").decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._fields:
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data, self._fields = "", [], False
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event, self._fields = value, True
        elif name == "data":
            self._data.append(value)
            self._fields = True
        return None  # id, retry and unknown fields mean nothing to a chat answer


def _json_object(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class StreamTally:
    """One streamed request as it happens; ``record()`` freezes it. Times are monotonic seconds."""

    started: float
    wall: float
    status: int = 0
    tokens: int = 0
    first_token: float | None = None
    last_token: float | None = None
    mode: str | None = None
    notice: bool = False
    cached: bool = False
    outcome: str | None = None  # set by done, an error event, or end()
    error: str | None = None
    ended: float | None = None
    malformed: bool = False

    @property
    def finished(self) -> bool:
        """The stream said its last word (done or error): nothing after it changes the answer."""
        return self.outcome is not None

    def add(self, event: SseEvent, at: float) -> None:
        """Account for one event received at ``at``."""
        if self.finished:
            return
        if event.event == "token":
            self.tokens += 1
            self.first_token = at if self.first_token is None else self.first_token
            self.last_token = at
            body = _json_object(event.data)
            if body is None or not isinstance(body.get("text"), str):
                self.malformed = True
        elif event.event in {"meta", "done"}:
            body = _json_object(event.data)
            if body is None:
                self.malformed = True
            else:
                self._answer_fields(body)
            if event.event == "done":
                said = None if body is None else body.get("outcome")
                if said in {COMPLETE, PARTIAL} and not self.malformed:
                    self._finish(at, str(said), None)
                else:
                    self._finish(at, STREAM_ERROR, MALFORMED_EVENT)
        elif event.event == "error":
            self._finish(at, STREAM_ERROR, ERROR_EVENT)
        # other events (a proxy's pings, future additions) are not part of the answer

    def end(self, at: float, error: str | None = None) -> None:
        """The connection ended, broke or was given up on at ``at``; ``error`` says why when known.

        Without a ``done`` before it the answer is an error: ``error`` if given, else a cut stream.
        After ``done`` this only notes nothing: the answer was already decided.
        """
        if not self.finished:
            self._finish(at, STREAM_ERROR, error or (MALFORMED_EVENT if self.malformed else STREAM_CUT))

    def refused(self, status: int, content_type: str, body: bytes, at: float) -> None:
        """An answer that is not a stream: a 4xx/5xx (``/chat``'s JSON error) or a 200 of another type."""
        self.status = status
        data = _json_object(body.decode("utf-8", errors="replace"))
        if data is not None:
            self._answer_fields(data)
        not_stream = status == 200 and not content_type.startswith("text/event-stream")
        self._finish(at, STREAM_ERROR, NOT_A_STREAM if not_stream else None)

    def record(self, name: str, worker: str, user: str = "") -> RequestRecord:
        end = self.ended if self.ended is not None else self.started
        ttft = None if self.first_token is None else (self.first_token - self.started) * 1000.0
        rate = None
        if self.tokens >= 2 and self.first_token is not None and self.last_token is not None:
            flowing = self.last_token - self.first_token
            rate = (self.tokens - 1) / flowing if flowing > 0 else None
        return RequestRecord(
            t=self.started, wall=self.wall, latency_s=end - self.started, status=self.status, mode=self.mode,
            notice=self.notice, cached=self.cached, error=self.error, name=name, worker=worker, user=user,
            ttft_ms=ttft, tokens=self.tokens, tokens_per_s=rate, outcome=self.outcome or STREAM_ERROR,
        )

    def _answer_fields(self, body: dict[str, Any]) -> None:
        if isinstance(body.get("mode"), str):
            self.mode = body["mode"]
        if "notice" in body:
            # done's notice (an interruption) is added to meta's (a degraded mode): either one counts.
            self.notice = self.notice or bool(body.get("notice"))
        if "cached" in body:
            self.cached = bool(body.get("cached"))

    def _finish(self, at: float, outcome: str, error: str | None) -> None:
        self.outcome, self.error, self.ended = outcome, error, at
