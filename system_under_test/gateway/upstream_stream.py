"""Reading an OpenAI-style SSE answer from the LLM: tokens as they arrive, under three clocks.

    upstream bytes ──> SseDecoder ──> SseEvent(event, data) ──> chunk_text() ──> token text | DONE
                                                                    │
                                  event: error / data: {"error"} ───┴──> StreamFailed("StreamError")
                                  data that is not a JSON chunk  ───────> StreamFailed("MalformedEvent")
    connection ends before data: [DONE] ─────────────────────────────────> StreamFailed("StreamCut")

``TokenStream.next_token()`` waits for the next non-empty content delta under whichever clock binds:
before the first token, the first-token timeout counted from when the request was sent (an
``{"role": "assistant"}`` chunk followed by silence is still a stall); after it, the idle timeout
between events; always the stream's overall end (the attempt timeout cut to the request's deadline).
httpx's and aiohttp's read timeouts are per chunk, so a slow trickle can run far past them (facts.md):
that is why the overall end is checked here too.

This module does no I/O of its own: it reads any async iterator of bytes, so the state machine is
tested with scripted byte sequences, and the gateway feeds it an aiohttp response body.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import DependencyError, StreamFailed

Clock = Callable[[], float]


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: its ``event:`` name ("message" when absent) and its joined ``data:`` lines."""

    event: str
    data: str


class SseDecoder:
    """Incremental SSE parser (the WHATWG rules this gateway needs): feed bytes, get complete events.

    Lines end in ``\\n`` or ``\\r\\n``; a blank line ends an event; ``:`` starts a comment (keep-alives);
    several ``data:`` lines join with ``\\n``; one space after the colon is dropped. Lines are decoded
    only once complete, so a multi-byte character split across two network chunks is never broken.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return events
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            event = self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None  # id:, retry: and unknown fields mean nothing to a one-shot completion stream


DONE = "[DONE]"


def chunk_text(event: SseEvent, dependency: str) -> str | None:
    """The content an event carries ('' for role, finish and usage chunks); None for ``data: [DONE]``.

    Raises ``StreamFailed`` for an error event or error chunk (retryable: overload often arrives this
    way inside a stream that already answered 200) and for data that is not a chunk object.
    """
    if event.event == "error":
        raise StreamFailed(dependency, "StreamError", _error_message(event.data), retryable=True)
    if event.data.strip() == DONE:
        return None
    if not event.data.strip():
        return ""
    try:
        chunk: Any = json.loads(event.data)
    except ValueError:
        raise StreamFailed(dependency, "MalformedEvent", f"not JSON: {event.data[:80]!r}") from None
    if not isinstance(chunk, dict):
        raise StreamFailed(dependency, "MalformedEvent", f"not a chunk object: {event.data[:80]!r}")
    if "error" in chunk:
        raise StreamFailed(dependency, "StreamError", _error_message(event.data), retryable=True)
    choices = chunk.get("choices", [])
    if not isinstance(choices, list):
        raise StreamFailed(dependency, "MalformedEvent", "choices is not a list")
    pieces: list[str] = []
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if content is not None and not isinstance(content, str):
            raise StreamFailed(dependency, "MalformedEvent", "delta content is not a string")
        pieces.append(content or "")
    return "".join(pieces)


def _error_message(data: str) -> str:
    try:
        body: Any = json.loads(data)
    except ValueError:
        return data[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('message', '')}"[:200]
    return str(error)[:200]


class TokenStream:
    """The tokens of one upstream SSE answer, each awaited under the clock that binds (module docstring)."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        dependency: str,
        *,
        started_at: float,
        first_token_s: float,
        idle_s: float,
        overall_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._dependency = dependency
        self._events = self._decode(chunks)
        self._clock = clock
        self._ends_at = started_at + overall_s
        self._first_by = min(started_at + first_token_s, self._ends_at)
        self._first_bound = started_at + first_token_s <= self._ends_at
        self._idle_s = idle_s
        self.tokens = 0
        self._finished = False

    async def next_token(self) -> str | None:
        """The next non-empty piece of content; None once ``data: [DONE]`` arrived. Raises StreamFailed."""
        if self._finished:
            return None
        while True:
            event = await self._next_event()
            text = chunk_text(event, self._dependency)
            if text is None:
                self._finished = True
                return None
            if text:
                self.tokens += 1
                return text

    async def _next_event(self) -> SseEvent:
        now = self._clock()
        if self.tokens == 0:
            wait, kind = self._first_by - now, "FirstTokenTimeout" if self._first_bound else "Timeout"
        elif self._idle_s < self._ends_at - now:
            wait, kind = self._idle_s, "IdleTimeout"
        else:
            wait, kind = self._ends_at - now, "Timeout"
        if wait <= 0:
            raise StreamFailed(self._dependency, kind, "no time left for the next event")
        try:
            async with asyncio.timeout(wait):
                return await anext(self._events)
        except TimeoutError:
            raise StreamFailed(self._dependency, kind, f"no event within {wait:.3f}s") from None
        except StopAsyncIteration:
            raise StreamFailed(self._dependency, "StreamCut", "the stream ended before data: [DONE]",
                               retryable=True) from None

    async def _decode(self, chunks: AsyncIterator[bytes]) -> AsyncGenerator[SseEvent, None]:
        decoder = SseDecoder()
        try:
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    yield event
        except Exception as exc:  # the transport's error (payload error, reset): the stream was cut
            raise StreamFailed(self._dependency, "StreamCut", f"{type(exc).__name__}: {exc}"[:200],
                               retryable=True) from exc

    async def aclose(self) -> None:
        """Stop reading (the generator is closed so nothing keeps the body's iterator alive)."""
        self._finished = True
        await self._events.aclose()


@dataclass(frozen=True)
class StreamTiming:
    """The two stream clocks of the settings; the third, the overall end, is the attempt's timeout."""

    first_token_s: float
    idle_s: float


class Closable(Protocol):
    """The HTTP response under the stream (aiohttp's): ``release`` may reuse the connection, ``close`` never."""

    def release(self) -> Any: ...

    def close(self) -> None: ...


class UpstreamStream:
    """An LLM answer being streamed: its first token in hand, the rest on demand.

    It owns the breaker permit of its call through two callbacks the client binds: ``on_end`` once,
    with None at ``[DONE]`` or the error that broke the stream; ``on_abandon`` when the reader stops
    early (the user hung up), which says nothing about the dependency's health.
    """

    def __init__(self, tokens: TokenStream, first: str, response: Closable) -> None:
        self.first = first
        self._tokens = tokens
        self._response = response
        self._on_end: Callable[[DependencyError | None], None] | None = None
        self._on_abandon: Callable[[], None] | None = None
        self._settled = False

    @property
    def tokens(self) -> int:
        return self._tokens.tokens

    def bind(self, on_end: Callable[[DependencyError | None], None], on_abandon: Callable[[], None]) -> None:
        self._on_end, self._on_abandon = on_end, on_abandon

    async def next_token(self) -> str | None:
        """The next piece of text; None at the clean end. A ``StreamFailed`` ends the stream too."""
        try:
            text = await self._tokens.next_token()
        except StreamFailed as exc:
            self._end(exc)
            raise
        if text is None:
            self._end(None)
        return text

    def _end(self, error: DependencyError | None) -> None:
        if not self._settled:
            self._settled = True
            if self._on_end is not None:
                self._on_end(error)
        if error is None:
            self._response.release()  # back to the pool when the body is complete, closed otherwise
        else:
            self._response.close()

    def close(self) -> None:
        """Stop reading; a stream not yet ended is abandoned (its permit released, not judged)."""
        if not self._settled:
            self._settled = True
            if self._on_abandon is not None:
                self._on_abandon()
        self._response.close()
