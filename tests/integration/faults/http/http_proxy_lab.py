"""Real processes for the HTTP fault proxy's tests: the proxy, the project's LLM service, a JSON upstream.

    test (aiohttp client) ──> proxy route "llm"  ──> python -m system_under_test.llm  (SSE answers)
                          ──> proxy route "json" ──> tiny aiohttp upstream in a thread (JSON answers,
                                                     echo, chunked, gzip, a connection it drops)
                          ──> proxy control API (httpx)

Every server is on a free loopback port and stopped by PID (or shut down) when its block ends.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from multidict import CIMultiDictProxy

from bench.child_server import free_port
from core.settings import PROJECT_ROOT
from tests.support import wait_until

HOST = "127.0.0.1"
JSON_BODY = json.dumps({"hits": [{"id": f"doc-{i}", "title": "運賃 and fares", "score": 0.5} for i in range(8)]},
                       ensure_ascii=False).encode()
SSE_BODY = b"".join(f'data: {{"n": {i}}}\n\n'.encode() for i in range(5)) + b"data: [DONE]\n\n"
DROP_DECLARED, DROP_SENT = 100, 10


def stop_process(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM by PID, then SIGKILL if it lingers; the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@dataclass
class ProxyProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    control: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.control = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    def put_route(self, name: str, listen: int, upstream: int) -> httpx.Response:
        return self.control.put(f"/routes/{name}", json={"listen": f"{HOST}:{listen}", "upstream": f"{HOST}:{upstream}"})

    def add(self, route: str, rule: dict[str, Any]) -> dict[str, Any]:
        response = self.control.post(f"/routes/{route}/faults", json=rule)
        assert response.status_code == 201, response.text
        stored: dict[str, Any] = response.json()
        return stored

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``GET /metrics`` (0 when the series is absent)."""
        wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        for line in self.control.get("/metrics").text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@contextmanager
def proxy_process(tmp: Path) -> Iterator[ProxyProcess]:
    """``python -m faults.http.server`` on a free port, ready (``GET /version``) when yielded."""
    port = free_port()
    log = tmp / "http-fault-proxy.log"
    process = subprocess.Popen([sys.executable, "-m", "faults.http.server", "--host", HOST, "--port", str(port),
                                "--log", str(log)], cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    proxy = ProxyProcess(f"http://{HOST}:{port}", process, log)
    try:
        def ready() -> bool:
            assert process.poll() is None, f"the proxy exited with {process.returncode}"
            try:
                return proxy.control.get("/version").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 20, "the HTTP fault proxy's /version")
        yield proxy
    finally:
        proxy.control.close()
        stop_process(process)


@contextmanager
def llm_service(tmp: Path) -> Iterator[int]:
    """The project's LLM service with no pacing (the proxy's delays are then all there is to measure)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": HOST, "LLM_BASE_DELAY_MS": "0", "LLM_TOKEN_DELAY_MS": "0",
           "LOG_LEVEL": "WARNING"}
    with (tmp / "llm.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "system_under_test.llm"], cwd=PROJECT_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            def ready() -> bool:
                assert process.poll() is None, f"the LLM service exited with {process.returncode}"
                try:
                    return httpx.get(f"http://{HOST}:{port}/health/ready", timeout=2, trust_env=False).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, 30, "the LLM service's readiness")
            yield port
        finally:
            stop_process(process)


# -- the JSON upstream ------------------------------------------------------------------------------


class JsonUpstream:
    """A tiny aiohttp server on its own thread and loop; ``hits`` counts the requests it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        self.stream_abandoned = threading.Event()  # /slow-sse found its client gone
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the JSON upstream did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/json", self._json)
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_get("/chunked", self._chunked)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/sse", self._sse)
        app.router.add_get("/drop", self._drop)
        app.router.add_get("/slow-sse", self._slow_sse)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, HOST, self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _json(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return web.Response(body=JSON_BODY, content_type="application/json", headers={"X-Upstream": "json"})

    async def _echo(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        body = await request.read()
        return web.json_response({"method": request.method, "path_qs": request.raw_path,
                                  "headers": [[k, v] for k, v in request.headers.items()],
                                  "body": body.decode("utf-8", "replace")})

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for part in (JSON_BODY[:20], JSON_BODY[20:90], JSON_BODY[90:]):
            await response.write(part)
        await response.write_eof()
        return response

    async def _gzip(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return web.Response(body=gzip.compress(JSON_BODY, mtime=0),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(SSE_BODY)
        await response.write_eof()
        return response

    async def _slow_sse(self, request: web.Request) -> web.StreamResponse:
        """An event every 50 ms for 10 s, unless the connection goes away first."""
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for i in range(200):
                await response.write(f'data: {{"n": {i}}}\n\n'.encode())
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            self.stream_abandoned.set()
            raise
        await response.write_eof()
        return response

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Content-Length": str(DROP_DECLARED)})
        await response.prepare(request)
        await response.write(JSON_BODY[:DROP_SENT])
        assert request.transport is not None
        request.transport.close()
        return response


@contextmanager
def json_upstream() -> Iterator[JsonUpstream]:
    upstream = JsonUpstream()
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()


# -- the client side --------------------------------------------------------------------------------


@dataclass
class Fetched:
    """One answer as a client saw it: head, every byte until the end, events with their arrival times."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    head_s: float
    events: list[bytes]
    event_s: list[float]  # seconds from sending the request to each complete event
    error: Exception | None  # the payload error, when the answer did not end cleanly


async def fetch(session: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: Any) -> Fetched:
    started = time.perf_counter()
    async with session.request(method, url, **kwargs) as response:
        head_s = time.perf_counter() - started
        body, events, times, tail = b"", [], [], b""
        error: Exception | None = None
        try:
            while chunk := await response.content.readany():
                now = time.perf_counter() - started
                body += chunk
                tail += chunk
                while b"\n\n" in tail:
                    event, tail = tail.split(b"\n\n", 1)
                    events.append(event + b"\n\n")
                    times.append(now)
        except aiohttp.ClientPayloadError as exc:
            error = exc
        return Fetched(response.status, response.headers, body, head_s, events, times, error)


def chat_body(question: str = "How much is the fare to Tokyo?", *, stream: bool = True,
              max_tokens: int = 32) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}], "stream": stream, "max_tokens": max_tokens}


# -- everything together ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    """The proxy with two routes: ``llm`` (SSE and JSON completions) and ``json`` (the tiny upstream)."""

    proxy: ProxyProcess
    upstream: JsonUpstream
    llm_port: int
    routes: dict[str, int]

    def via(self, route: str, path: str) -> str:
        return f"http://{HOST}:{self.routes[route]}{path}"

    def direct(self, route: str, path: str) -> str:
        port = self.llm_port if route == "llm" else self.upstream.port
        return f"http://{HOST}:{port}{path}"


@contextmanager
def running_lab(tmp: Path) -> Iterator[Lab]:
    with json_upstream() as upstream, llm_service(tmp) as llm_port, proxy_process(tmp) as proxy:
        routes = {"llm": free_port(), "json": free_port()}
        for name, listen in routes.items():
            response = proxy.put_route(name, listen, llm_port if name == "llm" else upstream.port)
            assert response.status_code == 200, response.text
        yield Lab(proxy, upstream, llm_port, routes)


def within(measured_s: float, requested_s: float) -> bool:
    """The timing tolerance of the proxy's delays: 10% of the requested value or 20 ms, whichever is more."""
    return abs(measured_s - requested_s) <= max(0.1 * requested_s, 0.020)
