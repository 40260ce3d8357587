"""A Locust user's streamed question: ``POST /chat/stream``, read event by event as the bytes arrive.

Imported only by ``scenarios.locust_runner``, in the Locust process (it uses gevent, which Locust has
patched in by then). What the events mean lives in ``scenarios.sse``; this module moves bytes and reads
clocks.

FastHttpUser can stream, with one detour. ``client.request(..., stream=True)`` returns once the
headers are in and leaves the body on the socket. Its public ways of reading on are not incremental
enough for time to first token: ``FastResponse.iter_content`` and ``read(n)`` wait until ``n`` bytes
(1024 by default) have arrived, so a 30-byte token event would sit in the buffer, and ``iter_content``
also turns a cut connection into a clean end; ``readline()`` splits on CRLF only, while SSE lines may
end with a bare LF. The geventhttpclient response underneath (``FastResponse._response``) has
``readline(sep)``, which returns each line as soon as it is parsed and raises when the connection
breaks mid-body (``HTTPParseError: Incomplete response``, ``ConnectionResetError``): that is what is
read here. (``HttpUser``/requests could stream too, at several times the cost per request.)

A stalled stream never holds a user forever: the run's request timeout bounds the whole exchange,
headers and body (a ``gevent.Timeout``), and ends it as outcome ``error``, error ``Timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from gevent import GreenletExit

from .records import STREAM_CUT
from .sse import SseParser, StreamTally

STREAM_PATH = "/chat/stream"
# No compression: a gzip stream would hold events back until a compressed block fills.
STREAM_HEADERS = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
# After ``done``, how long to wait for the end of the chunked body so the connection can be reused.
AFTER_DONE_S = 0.5
CANCELLED = "Cancelled"


def error_name(error: BaseException | None) -> str:
    """The exception's class name; every kind of timeout is called ``Timeout`` so they count together."""
    if error is None:
        return "NoResponse"
    # geventhttpclient wraps the errors it would retry (timeouts, EPIPE, empty replies) in RetriesExceeded.
    original = getattr(error, "original", None)
    if isinstance(original, BaseException):
        error = original
    if isinstance(error, (gevent.Timeout, TimeoutError)):
        return "Timeout"
    return type(error).__name__


def ask_stream(client: Any, payload: Mapping[str, Any], headers: Mapping[str, str], name: str,
               timeout_s: float, write: Callable[[StreamTally], None]) -> None:
    """Ask one question on the stream endpoint; ``write`` gets the tally exactly once, however it ends.

    ``client`` is the user's ``FastHttpSession``. A user stopped mid-stream (``GreenletExit``) is
    written as ``Cancelled`` (unless its ``done`` had already arrived) before the exit goes on.
    """
    tally = StreamTally(started=time.monotonic(), wall=time.time())
    deadline = gevent.Timeout(timeout_s)
    deadline.start()
    response: Any = None
    try:
        response = client.request("POST", STREAM_PATH, json=dict(payload), headers={**headers, **STREAM_HEADERS},
                                  name=name, stream=True)
        read_answer(response, tally)
    except gevent.Timeout as exc:
        if exc is not deadline:
            raise
        tally.end(time.monotonic(), "Timeout")
    except GreenletExit:
        tally.end(time.monotonic(), CANCELLED)
        write(tally)
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to get an answer is a data point
        tally.end(time.monotonic(), error_name(exc))
    finally:
        deadline.close()
        release(response)
    write(tally)


def read_answer(response: Any, tally: StreamTally) -> None:
    """Read the answer into ``tally``: the events of a 200 event stream, or the body of anything else."""
    status = int(response.status_code or 0)
    if not status:
        tally.end(time.monotonic(), error_name(getattr(response, "error", None)))
        return
    tally.status = status
    content_type = str((response.headers or {}).get("content-type", ""))
    if status != 200 or not content_type.startswith("text/event-stream"):
        tally.refused(status, content_type, response.content or b"", time.monotonic())
        return
    raw = response._response  # see the module docstring: the only incremental reader
    parser = SseParser()
    try:
        while not tally.finished:
            line = raw.readline(b"\n")
            if not line:
                break  # the body ended (a clean end: without done it is still a cut answer)
            for event in parser.feed(line):
                tally.add(event, time.monotonic())
    except Exception as exc:  # noqa: BLE001 - a broken connection mid-body is what a cut stream looks like
        name = error_name(exc)
        tally.end(time.monotonic(), name if name == "Timeout" else STREAM_CUT)
        return
    tally.end(time.monotonic())
    _drain(raw)


def _drain(raw: Any) -> None:
    """Read the rest of a finished stream briefly, so a complete body returns its connection to the pool."""
    try:
        with gevent.Timeout(AFTER_DONE_S, False):
            while raw.readline(b"\n"):
                pass
    except Exception:  # noqa: BLE001 - the answer is already decided; a late break only loses the socket
        pass


def release(response: Any) -> None:
    """Give the connection back (or close it, when the body was not read to its end)."""
    raw = getattr(response, "_response", None)
    if raw is not None:
        try:
            raw.release()
        except Exception:  # noqa: BLE001 - closing a broken socket may fail; there is nothing left to do
            pass
