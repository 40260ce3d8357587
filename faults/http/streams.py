"""Server-sent events as the stream faults see them, and the bytes the body faults put in.

Upstream chunks do not line up with events (one read may hold three events, or half of one), so
the stream faults count events with an incremental splitter on the blank line that ends each event
(``\\n\\n``; ``\\r\\n\\r\\n`` too, which the SSE spec also allows). The splitter keeps only the
unfinished tail of the last chunk, so a stream is never buffered beyond one event.
"""

from __future__ import annotations

import json

from faults.http.params import ErrorEvent

SSE_TYPE = "text/event-stream"
JSON_TYPE = "application/json"
# What a provider's stream looks like when a proxy or the model server cuts a JSON object short.
MALFORMED_EVENT = b'data: {"choices": [{"delta": {"content": \n\n'
MALFORMED_JSON = b'{"choices": ['


class EventSplitter:
    """Feed chunks, get whole events back (each with its terminating blank line)."""

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._tail + chunk if self._tail else chunk
        events: list[bytes] = []
        start = 0
        while True:
            end, width = _boundary(data, start)
            if end < 0:
                break
            events.append(data[start:end + width])
            start = end + width
        self._tail = data[start:]
        return events

    def rest(self) -> bytes:
        """Whatever followed the last complete event (an unterminated event at the stream's end)."""
        tail, self._tail = self._tail, b""
        return tail


def _boundary(data: bytes, start: int) -> tuple[int, int]:
    lf = data.find(b"\n\n", start)
    crlf = data.find(b"\r\n\r\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return lf, 2


def split_events(data: bytes) -> list[bytes]:
    """All complete events of ``data`` (the tail after the last blank line, if any, is dropped)."""
    return EventSplitter().feed(data)


def error_event(spec: ErrorEvent) -> bytes:
    """The ``event: error`` a provider sends inside a stream that already answered 200."""
    data = json.dumps({"error": {"type": spec.type, "message": spec.message}}, ensure_ascii=False)
    return f"event: error\ndata: {data}\n\n".encode()


def media_type(content_type: str) -> str:
    """``text/event-stream`` from ``Text/Event-Stream; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()
