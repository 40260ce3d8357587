"""SSE event splitting and the bytes the stream and body faults put in."""

from __future__ import annotations

import json

import pytest

from faults.http.params import ErrorEvent
from faults.http.streams import (
    MALFORMED_EVENT,
    MALFORMED_JSON,
    EventSplitter,
    error_event,
    media_type,
    split_events,
)

EVENTS = [b'data: {"a": 1}\n\n', b"event: token\ndata: {\"text\": \"\xe9\x81\x8b\"}\n\n", b"data: [DONE]\n\n"]


def test_http_split_events_keeps_each_event_whole() -> None:
    """Events come back with their terminating blank line, in order; joined they are the input."""
    data = b"".join(EVENTS)
    assert split_events(data) == EVENTS


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_http_event_splitter_reassembles_events_across_chunk_borders(size: int) -> None:
    """However the stream is cut into reads, the same events come out, and none early."""
    data = b"".join(EVENTS)
    splitter = EventSplitter()
    out = []
    for start in range(0, len(data), size):
        out += splitter.feed(data[start:start + size])
    assert out == EVENTS
    assert splitter.rest() == b""


def test_http_event_splitter_accepts_crlf_and_returns_the_unterminated_tail() -> None:
    """``\\r\\n\\r\\n`` ends an event too; a last event without a blank line is left for rest()."""
    splitter = EventSplitter()
    assert splitter.feed(b"data: 1\r\n\r\ndata: 2\n\ndata: 3") == [b"data: 1\r\n\r\n", b"data: 2\n\n"]
    assert splitter.rest() == b"data: 3"
    assert splitter.rest() == b""


def test_http_error_event_is_an_sse_error_with_provider_shape() -> None:
    """The error event names itself ``error`` and carries ``{"error": {type, message}}`` as JSON."""
    raw = error_event(ErrorEvent(3, "overloaded_error", "混雑しています"))
    [event] = split_events(raw)
    lines = event.decode().strip().split("\n")
    assert lines[0] == "event: error"
    assert json.loads(lines[1].removeprefix("data: ")) == {
        "error": {"type": "overloaded_error", "message": "混雑しています"}}


def test_http_malformed_payloads_are_not_json() -> None:
    """The malformed event is one SSE event whose data does not parse; the malformed body neither."""
    [event] = split_events(MALFORMED_EVENT)
    with pytest.raises(ValueError):
        json.loads(event.decode().removeprefix("data: "))
    with pytest.raises(ValueError):
        json.loads(MALFORMED_JSON)


def test_http_media_type_drops_parameters_and_case() -> None:
    """The content type is compared without charset and case."""
    assert media_type("Text/Event-Stream; charset=utf-8") == "text/event-stream"
    assert media_type("") == ""
