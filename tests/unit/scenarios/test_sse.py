"""Reading streamed answers from recorded SSE bytes: the parser, and the tally's outcome, TTFT and rates."""

from __future__ import annotations

import pytest

from scenarios.records import ERROR_EVENT, MALFORMED_EVENT, NOT_A_STREAM, STREAM_CUT
from scenarios.sse import SseEvent, SseParser, StreamTally

# What the gateway's /chat/stream sends for a normal answer (contract C), byte for byte.
COMPLETE = (
    b'event: meta\ndata: {"request_id": "r-1", "mode": "normal", "notice": null, "sources": [], "cached": false}\n\n'
    b'event: token\ndata: {"text": "\xe9\x81\x8b\xe8\xb3\x83"}\n\n'  # 運賃: a split may fall inside it
    b'event: token\ndata: {"text": " is"}\n\n'
    b'event: token\ndata: {"text": " 210 yen"}\n\n'
    b'event: done\ndata: {"outcome": "complete", "mode": "normal", "notice": null, "tokens": 3}\n\n'
)
PARTIAL = (
    b'event: meta\ndata: {"request_id": "r-2", "mode": "normal", "notice": null, "sources": [], "cached": false}\n\n'
    b'event: token\ndata: {"text": "The fare"}\n\n'
    b'event: done\ndata: {"outcome": "partial", "mode": "normal", "notice": "\xe5\x9b\x9e\xe7\xad\x94\xe3\x81\x8c'
    b'\xe4\xb8\xad\xe6\x96\xad\xe3\x81\x95\xe3\x82\x8c\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f", "tokens": 1}\n\n'
)


def events_of(data: bytes, step: int) -> list[SseEvent]:
    parser = SseParser()
    out: list[SseEvent] = []
    for i in range(0, len(data), step):
        out.extend(parser.feed(data[i:i + step]))
    return out


def tally_of(data: bytes, *, start: float = 10.0, gap: float = 0.1, end: float | None = None) -> StreamTally:
    """Feed ``data``'s events one per ``gap`` seconds after ``start``; ``end`` closes the connection."""
    tally = StreamTally(started=start, wall=0.0, status=200)
    for i, event in enumerate(SseParser().feed(data), start=1):
        tally.add(event, start + i * gap)
    if end is not None:
        tally.end(end)
    return tally


@pytest.mark.parametrize("step", [1, 3, 7, len(COMPLETE)])
def test_parser_gives_the_same_events_however_the_bytes_are_split(step: int) -> None:
    """Byte by byte, in odd chunks or all at once: five events, the multi-byte text intact."""
    events = events_of(COMPLETE, step)
    assert [e.event for e in events] == ["meta", "token", "token", "token", "done"]
    assert events[1].data == '{"text": "運賃"}'


def test_parser_follows_the_sse_line_rules() -> None:
    """CRLF endings, comments, joined data lines, an unnamed event and no space after the colon."""
    data = b": ping\r\n\r\nevent:token\r\ndata: a\r\ndata:b\r\n\r\ndata: plain\n\nid: 7\nretry: 10\n\n"
    events = SseParser().feed(data)
    assert events == [SseEvent("token", "a\nb"), SseEvent("message", "plain")]


def test_parser_holds_an_unfinished_event_until_its_blank_line() -> None:
    """An event whose blank line has not arrived is not dispatched yet."""
    parser = SseParser()
    assert parser.feed(b'event: token\ndata: {"text": "x"}\n') == []
    assert parser.feed(b"\n") == [SseEvent("token", '{"text": "x"}')]


def test_tally_of_a_complete_stream_measures_ttft_tokens_and_rate() -> None:
    """meta at +0.1 s, tokens at +0.2/+0.3/+0.4 s, done at +0.5 s: TTFT 200 ms, 3 tokens, 10 tokens/s."""
    record = tally_of(COMPLETE).record("chat-stream", "local", "load-local-0")
    assert record.outcome == "complete" and record.ok and record.error is None
    assert record.ttft_ms == pytest.approx(200.0)
    assert record.tokens == 3
    assert record.tokens_per_s == pytest.approx(10.0)
    assert record.latency_s == pytest.approx(0.5)
    assert (record.mode, record.notice, record.cached, record.status) == ("normal", False, False, 200)
    assert (record.name, record.worker, record.user) == ("chat-stream", "local", "load-local-0")


def test_tally_of_a_partial_stream_takes_the_notice_from_done() -> None:
    """A done saying partial with a notice: outcome partial, notice set, still a usable answer."""
    record = tally_of(PARTIAL).record("chat-stream", "local")
    assert (record.outcome, record.notice, record.tokens) == ("partial", True, 1)
    assert record.tokens_per_s is None  # one token has no rate
    assert record.ok and not record.server_error


def test_tally_keeps_a_degraded_modes_notice_from_meta() -> None:
    """A degraded answer announced in meta keeps its notice when done repeats none."""
    data = (b'event: meta\ndata: {"mode": "degraded-cache-only", "notice": "busy", "cached": true}\n\n'
            b'event: token\ndata: {"text": "cached answer"}\n\n'
            b'event: done\ndata: {"outcome": "complete", "mode": "degraded-cache-only", "notice": null}\n\n')
    record = tally_of(data).record("chat-stream", "local")
    assert (record.mode, record.notice, record.cached, record.outcome) == ("degraded-cache-only", True, True, "complete")


def test_tally_of_a_cut_stream_is_an_error_with_its_tokens() -> None:
    """Two tokens then the connection ends without done: error StreamCut, latency to the end."""
    cut = COMPLETE[:COMPLETE.index(b"event: token\ndata: {\"text\": \" 210")]
    record = tally_of(cut, end=11.0).record("chat-stream", "local")
    assert (record.outcome, record.error, record.tokens) == ("error", STREAM_CUT, 2)
    assert record.latency_s == pytest.approx(1.0)
    assert not record.ok and not record.server_error


def test_tally_of_an_error_event_is_a_server_error() -> None:
    """An in-band error event ends the answer as ErrorEvent, which counts as a server error."""
    data = COMPLETE[:COMPLETE.index(b"event: done")] + b'event: error\ndata: {"error": {"type": "overloaded_error"}}\n\n'
    tally = tally_of(data)
    tally.add(SseEvent("done", '{"outcome": "complete"}'), 99.0)  # nothing counts after the last word
    record = tally.record("chat-stream", "local")
    assert (record.outcome, record.error) == ("error", ERROR_EVENT)
    assert record.server_error and not record.ok
    assert record.latency_s == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [b'event: token\ndata: {"choices": [{"delta": {"content": \n\n',
                                 b"event: done\ndata: complete\n\n",
                                 b'event: done\ndata: {"outcome": "finished"}\n\n'])
def test_tally_of_a_malformed_event_is_an_error(bad: bytes) -> None:
    """A token that is not JSON, or a done that says nothing the contract knows, spoils the answer."""
    data = COMPLETE.replace(b'event: token\ndata: {"text": " is"}\n\n', bad, 1)
    record = tally_of(data, end=12.0).record("chat-stream", "local")
    assert (record.outcome, record.error) == ("error", MALFORMED_EVENT)


def test_tally_given_up_by_the_client_is_a_timeout() -> None:
    """A stream still open at the client's bound ends as error Timeout at that moment."""
    tally = tally_of(COMPLETE[:COMPLETE.index(b"event: token")])
    tally.end(12.0, "Timeout")
    record = tally.record("chat-stream", "local")
    assert (record.outcome, record.error, record.tokens, record.ttft_ms) == ("error", "Timeout", 0, None)
    assert record.latency_s == pytest.approx(2.0)


def test_tally_of_a_refused_answer_is_an_error_with_its_status() -> None:
    """A 422 keeps its status with no error name; a 200 HTML page is NotAStream."""
    invalid = StreamTally(started=1.0, wall=0.0)
    invalid.refused(422, "application/json", b'{"detail": "message too long"}', 1.2)
    record = invalid.record("chat-stream", "local")
    assert (record.status, record.outcome, record.error, record.tokens) == (422, "error", None, 0)
    html = StreamTally(started=1.0, wall=0.0)
    html.refused(200, "text/html; charset=utf-8", b"<html><body>upstream error</body></html>", 1.1)
    assert (html.record("chat-stream", "local").error, html.record("chat-stream", "local").ok) == (NOT_A_STREAM, False)
