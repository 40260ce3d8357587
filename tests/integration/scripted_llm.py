"""A misbehaving OpenAI-compatible LLM for integration tests: real aiohttp on loopback, scripted per request.

Each completion request takes the next ``Reply`` from the script (an ordinary answer once the script
is empty) and plays it: an error status with headers, a stream that stalls before its first event or
after N, one cut after N events, an ``event: error`` or a malformed event after N. It runs its own
event loop in a thread so synchronous tests (and the gateway process they start) can talk to it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

Kind = Literal["ok", "status", "stall_first", "stall_after", "cut", "error_event", "malformed"]
STALL_S = 60.0  # longer than any gateway timeout under test; the handler is cancelled when the gateway hangs up


@dataclass(frozen=True)
class Reply:
    kind: Kind = "ok"
    events: int = 6  # content events sent (ok: all of them; the others: before misbehaving)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def piece(i: int) -> str:
    return f"word{i} "


@dataclass(frozen=True)
class Seen:
    at: float  # monotonic
    stream: bool


class ScriptedLlm:
    """The server; ``script`` is consumed front first, ``seen`` records every completion request."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.cancelled = 0  # completion handlers cancelled because the caller hung up
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scripted-llm", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def play(self, *replies: Reply) -> None:
        with self._lock:
            self.script[:] = list(replies)
            self.seen.clear()

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/health/{probe}", self._health)
        app.router.add_post("/v1/chat/completions", self._complete)
        # A gateway that gives up on a stalled stream hangs up: the handler is cancelled then, not left sleeping.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "pass"}, content_type="application/health+json")

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._play(request)
        except asyncio.CancelledError:
            with self._lock:
                self.cancelled += 1
            raise

    def cancellations(self) -> int:
        with self._lock:
            return self.cancelled

    async def _play(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        stream = bool(body.get("stream"))
        with self._lock:
            self.seen.append(Seen(time.monotonic(), stream))
            reply = self.script.pop(0) if self.script else Reply()
        if reply.kind == "status":
            error = {"error": {"type": "rate_limit_error" if reply.status == 429 else "overloaded_error",
                               "message": "scripted"}}
            return web.json_response(error, status=reply.status, headers=reply.headers)
        if not stream:
            text = "".join(piece(i) for i in range(reply.events))
            return web.json_response({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                                      "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                   "finish_reason": "stop"}]})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk({"role": "assistant", "content": ""}))
        if reply.kind == "stall_first":
            await asyncio.sleep(STALL_S)
        for i in range(reply.events):
            await resp.write(_chunk({"content": piece(i)}))
            await asyncio.sleep(0.01)
        if reply.kind == "stall_after":
            await asyncio.sleep(STALL_S)
        if reply.kind == "cut":
            assert request.transport is not None
            request.transport.abort()  # no [DONE], no clean end of the chunked body
            return resp
        if reply.kind == "error_event":
            await resp.write(b'event: error\ndata: {"error": {"type": "overloaded_error", "message": "scripted"}}\n\n')
            await resp.write_eof()
            return resp
        if reply.kind == "malformed":
            await resp.write(b'data: {"choices": [{"delta": {"content": \n\n')
        await resp.write(_chunk({}, finish="stop"))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    data = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n".encode()


@contextmanager
def scripted_llm() -> Iterator[ScriptedLlm]:
    server = ScriptedLlm()
    server.start()
    try:
        yield server
    finally:
        server.stop()
