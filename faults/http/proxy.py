"""One route: its own listener, one keep-alive session to its upstream, and the forwarder between them.

    client ──> listener (aiohttp low-level server, handler_cancellation) ──> forward()
                 no rules: stream the answer chunk by chunk, untouched
                 rules:    plan() ─> answer in the upstream's place | delays, then
                           SSE answer  -> per-event faults (delays, cut, error event, malformed event)
                           JSON answer -> body faults (truncate, malformed JSON)
               upstream unreachable or dropped mid-answer ─> the client connection is closed with no
               (further) answer: what the caller saw before the proxy was put in, never a made-up 502

The no-rule path is the one every run pays for, so it does the least: one read of the (small)
request body, a filtered header copy, then ``readany``/``write`` until the upstream ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from faults.http.metrics import ProxyMetrics
from faults.http.params import BODY_KINDS, STREAM_KINDS, RuleError
from faults.http.rules import LiveRule, Plan, plan
from faults.http.streams import (
    JSON_TYPE,
    MALFORMED_EVENT,
    MALFORMED_JSON,
    SSE_TYPE,
    EventSplitter,
    error_event,
    media_type,
)

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                         "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# aiohttp sets the length of the body it sends itself.
_REQUEST_DROP = _HOP_BY_HOP | {"content-length"}
# aiohttp must not add headers the caller did not send (an Accept-Encoding would change the answer).
_SKIP_AUTO = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_UPSTREAM_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
CONNECT_TIMEOUT_S = 5.0
SHUTDOWN_TIMEOUT_S = 1.0
LOOPBACK_NAMES = frozenset({"localhost", "::1"})


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: object, field: str) -> Address:
        """``127.0.0.1:20001``; only loopback hosts, since every byte of a run stays on this machine."""
        if not isinstance(text, str) or ":" not in text:
            raise RuleError(field, f"must be 'host:port', got {text!r}")
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        if not (host.startswith("127.") or host in LOOPBACK_NAMES):
            raise RuleError(field, f"must be a loopback address (127.0.0.1), got {host!r}")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise RuleError(field, f"must end with a port 1..65535, got {port!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Route:
    """A named route; ``rules`` is replaced as a whole (never mutated) so a request in flight keeps
    the tuple it started with."""

    def __init__(self, name: str, listen: Address, upstream: Address, metrics: ProxyMetrics) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.rules: tuple[LiveRule, ...] = ()
        self._metrics = metrics
        self._base = f"http://{upstream}"
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._changed = asyncio.Event()  # set (and replaced) whenever rules are removed

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "listen": str(self.listen), "upstream": str(self.upstream),
                "faults": [rule.to_json() for rule in self.rules]}

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``listen``; raises ``OSError`` when the port is taken (nothing is left open)."""
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            auto_decompress=False, skip_auto_headers=_SKIP_AUTO, cookie_jar=aiohttp.DummyCookieJar())
        server = web.Server(self.forward, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.listen.host, self.listen.port, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            await self._session.close()
            raise
        self._runner = runner

    def revoke(self, removed: Sequence[LiveRule]) -> None:
        """Mark ``removed`` as gone and wake every fault sleep of this route to re-check its plan."""
        for live in removed:
            live.active = False
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less when rules are removed meanwhile (then True)."""
        if seconds <= 0:
            return False
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _hold(self, faults: Plan, phase: str) -> Plan:
        """Hold a request (or an answer's head) for the plan's delay of ``phase``; the delay shrinks
        to what is left of it when one of its rules is removed meanwhile."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            faults = faults.current()  # rules may have gone while the upstream was answering
            if not await self._wait_change(started + _delay(faults, phase) - loop.time()):
                return faults

    def retarget(self, upstream: Address) -> None:
        """Send new requests to ``upstream`` (the session's pool just gains connections to it)."""
        self.upstream = upstream
        self._base = f"http://{upstream}"

    async def close(self) -> None:
        """Stop listening, end the connections, close the session (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()  # requests in flight still have the session until they end here
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- the forwarder -------------------------------------------------------------------------------

    async def forward(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        rules = self.rules
        faults = plan(rules, request.method, request.path, body, time.time) if rules else None
        if faults is not None:
            if faults.request_delay_s:
                faults = await self._hold(faults, "request")
            if faults.answer is not None:
                return self._answer(faults)
        session = self._session
        assert session is not None, "a route forwards only while it listens"
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP]
        try:
            upstream = await session.request(request.method, URL(self._base + request.raw_path, encoded=True),
                                             headers=headers, data=body or None, allow_redirects=False)
        except _UPSTREAM_ERRORS:
            return self._abort(request, "aborted")
        try:
            return await self._relay(request, upstream, faults)
        except _UPSTREAM_ERRORS:
            # The upstream dropped mid-answer: the client must see the same broken answer.
            return self._abort(request, None)
        except ConnectionError:
            return web.StreamResponse()  # the client went away; aiohttp notices when it finishes
        finally:
            upstream.release()  # back to the pool if read to the end, else closed

    def _answer(self, faults: Plan) -> web.Response:
        answer = faults.answer
        assert answer is not None
        headers = CIMultiDict(answer.headers)
        headers["Content-Type"] = answer.content_type
        self._metrics.applied(self.name, [answer.kind, *(k for k in faults.kinds if k == "delay")])
        self._metrics.request(self.name, str(answer.status))
        return web.Response(status=answer.status, body=answer.body, headers=headers)

    def _abort(self, request: web.BaseRequest, status: str | None) -> web.StreamResponse:
        """Close the client's connection after what was already written (``close``, not ``abort``:
        the bytes before the cut must arrive). aiohttp's own attempt to finish the answer then fails
        on the closed transport, which it treats as a client that went away."""
        transport = request.transport
        if transport is not None:
            transport.close()
        if status is not None:
            self._metrics.request(self.name, status)
        return web.StreamResponse()

    async def _relay(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse,
                     faults: Plan | None) -> web.StreamResponse:
        headers = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP)
        if faults is not None:
            if faults.response_delay_s:
                faults = await self._hold(faults, "response")
            kind = media_type(upstream.headers.get("Content-Type", ""))
            streamed = faults.streams and kind == SSE_TYPE
            rewritten = faults.rewrites_body and kind == JSON_TYPE
            self._metrics.applied(self.name, [k for k in faults.kinds if k == "delay"
                                              or (streamed and k in STREAM_KINDS) or (rewritten and k in BODY_KINDS)])
            if streamed:
                return await self._events(request, upstream, headers, faults)
            if rewritten:
                return await self._body(request, upstream, headers, faults)
        self._metrics.request(self.name, str(upstream.status))
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        writer = await response.prepare(request)
        if response.content_length is None and writer is not None:
            writer.send_headers()  # a stream's head goes out now, not with its first event
        read, write = upstream.content.readany, response.write
        while chunk := await read():
            await write(chunk)
        await response.write_eof()
        return response

    async def _events(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse,
                      headers: CIMultiDict[str], faults: Plan) -> web.StreamResponse:
        """Forward an SSE answer event by event. Delays follow a schedule anchored at the previous
        event's due time (not a sleep per event), so timer overshoot does not add up over a stream."""
        self._metrics.request(self.name, str(upstream.status))
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        writer = await response.prepare(request)
        if writer is not None:
            writer.send_headers()
        loop = asyncio.get_running_loop()
        splitter, index, due = EventSplitter(), 0, 0.0
        while chunk := await upstream.content.readany():
            for event in splitter.feed(chunk):
                if faults.revoked:
                    faults = faults.current()
                cut, error = faults.cut_after, faults.error_event
                error_at = error.after if error is not None else None
                if index == cut:
                    return self._abort(request, None)
                if index == error_at and error is not None:
                    await response.write(error_event(error))
                    await response.write_eof()
                    return response
                delay = faults.first_token_delay_s if index == 0 else faults.token_delay_s
                if delay:
                    due = max(loop.time(), due) + delay
                    while await self._wait_change(due - loop.time()):
                        faults = faults.current()
                        shorter = faults.first_token_delay_s if index == 0 else faults.token_delay_s
                        due, delay = due - delay + shorter, shorter
                await response.write(MALFORMED_EVENT if index in faults.malformed_at else event)
                index += 1
        if tail := splitter.rest():
            await response.write(tail)
        faults = faults.current()
        cut, error = faults.cut_after, faults.error_event
        error_at = error.after if error is not None else None
        if index == cut:
            return self._abort(request, None)
        if index == error_at and error is not None:
            await response.write(error_event(error))
        await response.write_eof()
        return response

    async def _body(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse,
                    headers: CIMultiDict[str], faults: Plan) -> web.StreamResponse:
        """Truncate (declared length kept, so the client sees a short body) or replace a JSON body."""
        self._metrics.request(self.name, str(upstream.status))
        if faults.malformed_json:
            await upstream.read()  # read to the end, so the upstream connection goes back to the pool
            headers["Content-Length"] = str(len(MALFORMED_JSON))
            if faults.truncate is None:
                return web.Response(status=upstream.status, reason=upstream.reason, headers=headers,
                                    body=MALFORMED_JSON)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        writer = await response.prepare(request)
        if writer is not None:
            writer.send_headers()  # the head goes out even when the cut leaves no byte of the body
        left = faults.truncate
        assert left is not None  # a body rewrite without malformed_json is a truncate
        pending = MALFORMED_JSON if faults.malformed_json else await upstream.content.readany()
        while pending:
            if len(pending) >= left:  # the cut falls inside this chunk
                if left:
                    await response.write(pending[:left])
                return self._abort(request, None)
            await response.write(pending)
            left -= len(pending)
            pending = b"" if faults.malformed_json else await upstream.content.readany()
        await response.write_eof()
        return response


def _delay(faults: Plan, phase: str) -> float:
    return faults.request_delay_s if phase == "request" else faults.response_delay_s
