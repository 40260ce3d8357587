"""The HTTP fault proxy: one process, one listener per route, a JSON control API beside Toxiproxy's.

    python -m faults.http.server --host 127.0.0.1 --port 8475 [--log FILE]

    control API 127.0.0.1:8475 ── PUT/DELETE /routes/{name}, POST/DELETE faults, POST /reset, GET /metrics
    route "gateway-to-llm"  127.0.0.1:20002 ──> 127.0.0.1:8002    (proxy.Route: listener + session)
    route ...

Why aiohttp: it is already the gateway's outbound client, so the project trusts it, and on this
2-core machine it was the fastest option measured (facts.md: a two-call chain made 1,834 req/s with
an ``aiohttp.ClientSession`` against 744 with httpx on the aiohttp transport and 187 with httpx's own
pool). Its server and client both stream (``readany``/``write``), so an SSE answer is forwarded
event by event without buffering, and ``handler_cancellation`` cancels the upstream call when the
caller hangs up. mitmproxy was not chosen: it would be a large new dependency built around
intercepting and inspecting whole flows (it was not measured here). ``bench/http_proxy.py``
measures what this proxy costs per request (``docs/performance.md``).

The process keeps nothing on disk: the harness re-creates routes with an idempotent PUT and clears
faults with ``POST /reset``, as it does with Toxiproxy. Logs are JSON lines, one per control call;
proxied requests are counted in ``/metrics``, never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from faults.http.metrics import ProxyMetrics
from faults.http.params import RuleError
from faults.http.proxy import LOOPBACK_NAMES, Address, Route
from faults.http.rules import LiveRule, parse_rule

NAME = "harness-http-fault-proxy"
VERSION = "1"
DEFAULT_PORT = 8475
_ROUTE_KEYS = frozenset({"listen", "upstream"})
logger = logging.getLogger("faults.http.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An answer other than success: status, message and the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class Registry:
    """The routes of this process and the calls that change them (serialized by one lock, so two
    PUTs of one route cannot both start a listener)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.routes: dict[str, Route] = {}
        self.metrics = ProxyMetrics()
        self._clock = clock
        self._lock = asyncio.Lock()

    def route(self, name: str) -> Route:
        try:
            return self.routes[name]
        except KeyError:
            raise ApiError(404, f"no route {name!r}", "name") from None

    async def put(self, name: str, raw: object) -> Route:
        if not isinstance(raw, dict):
            raise RuleError("body", "must be a JSON object with listen and upstream")
        unknown = sorted(set(raw) - _ROUTE_KEYS)
        if unknown:
            raise RuleError(unknown[0], "is not a route field (known: listen, upstream)")
        listen, upstream = Address.parse(raw.get("listen"), "listen"), Address.parse(raw.get("upstream"), "upstream")
        async with self._lock:
            current = self.routes.get(name)
            if current is not None and current.listen == listen:
                current.retarget(upstream)
                return current
            clash = next((r for r in self.routes.values() if r.listen == listen and r.name != name), None)
            if clash is not None:
                raise ApiError(409, f"route {clash.name!r} already listens on {listen}", "listen")
            fresh = Route(name, listen, upstream, self.metrics)
            try:
                await fresh.start()
            except OSError as exc:
                raise ApiError(500, f"cannot listen on {listen}: {exc.strerror or exc}", "listen") from None
            if current is not None:
                fresh.rules = current.rules  # the faults stay with the route, wherever it listens
                await current.close()
            self.routes[name] = fresh
            logger.info("route put", extra={"route": name, "listen": str(listen), "upstream": str(upstream)})
            return fresh

    async def delete(self, name: str) -> None:
        async with self._lock:
            route = self.route(name)
            del self.routes[name]
            await route.close()
        logger.info("route deleted", extra={"route": name})

    def add_fault(self, name: str, raw: object) -> LiveRule:
        route = self.route(name)
        rule = parse_rule(raw)
        if any(live.rule.id == rule.id for live in route.rules):
            raise ApiError(409, f"route {name!r} already has a fault {rule.id!r}", "id")
        live = LiveRule(rule, self._clock)
        route.rules = (*route.rules, live)
        logger.info("fault added", extra={"route": name, "fault": rule.to_json()})
        return live

    def remove_fault(self, name: str, rule_id: str) -> None:
        route = self.route(name)
        removed = [live for live in route.rules if live.rule.id == rule_id]
        if not removed:
            raise ApiError(404, f"route {name!r} has no fault {rule_id!r}", "id")
        route.rules = tuple(live for live in route.rules if live.rule.id != rule_id)
        route.revoke(removed)
        logger.info("fault removed", extra={"route": name, "id": rule_id})

    def reset(self) -> list[dict[str, str]]:
        removed = []
        for route in self.routes.values():
            removed += [{"route": route.name, "id": live.rule.id, "kind": live.rule.kind} for live in route.rules]
            rules, route.rules = route.rules, ()
            route.revoke(rules)
        logger.info("reset", extra={"removed": len(removed)})
        return removed

    async def close(self) -> None:
        async with self._lock:
            routes, self.routes = list(self.routes.values()), {}
            await asyncio.gather(*(route.close() for route in routes))


# -- the control API ------------------------------------------------------------------------------


def control_app(registry: Registry) -> web.Application:
    async def version(request: web.Request) -> web.StreamResponse:
        return web.json_response({"name": NAME, "version": VERSION})

    async def routes(request: web.Request) -> web.StreamResponse:
        return web.json_response([route.to_json() for route in registry.routes.values()])

    async def get_route(request: web.Request) -> web.StreamResponse:
        return web.json_response(registry.route(request.match_info["name"]).to_json())

    async def put_route(request: web.Request) -> web.StreamResponse:
        route = await registry.put(request.match_info["name"], await _json(request))
        return web.json_response(route.to_json())

    async def delete_route(request: web.Request) -> web.StreamResponse:
        await registry.delete(request.match_info["name"])
        return web.Response(status=204)

    async def add_fault(request: web.Request) -> web.StreamResponse:
        live = registry.add_fault(request.match_info["name"], await _json(request))
        return web.json_response(live.to_json(), status=201)

    async def remove_fault(request: web.Request) -> web.StreamResponse:
        registry.remove_fault(request.match_info["name"], request.match_info["id"])
        return web.Response(status=204)

    async def reset(request: web.Request) -> web.StreamResponse:
        return web.json_response({"removed": registry.reset()})

    async def metrics(request: web.Request) -> web.StreamResponse:
        active = {name: len(route.rules) for name, route in registry.routes.items()}
        return web.Response(text=registry.metrics.render(active), content_type="text/plain", charset="utf-8")

    app = web.Application(middlewares=[_errors])
    app.router.add_get("/version", version)
    app.router.add_get("/routes", routes)
    app.router.add_get("/routes/{name}", get_route)
    app.router.add_put("/routes/{name}", put_route)
    app.router.add_delete("/routes/{name}", delete_route)
    app.router.add_post("/routes/{name}/faults", add_fault)
    app.router.add_delete("/routes/{name}/faults/{id}", remove_fault)
    app.router.add_post("/reset", reset)
    app.router.add_get("/metrics", metrics)
    return app


async def _json(request: web.Request) -> object:
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RuleError("body", f"is not valid JSON: {exc}") from None


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RuleError as exc:
        return web.json_response({"error": str(exc), "field": exc.field}, status=400)
    except ApiError as exc:
        return web.json_response({"error": exc.message, "field": exc.field}, status=exc.status)
    except web.HTTPException as exc:  # aiohttp's own 404/405 for a path or method the API does not have
        if exc.status < 400:
            raise
        return web.json_response({"error": f"{request.method} {request.path}: {exc.reason}", "field": None},
                                 status=exc.status)


# -- the process ------------------------------------------------------------------------------------


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, message and whatever ``extra`` carried."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                               "logger": record.name, "message": record.getMessage()}
        out.update((k, v) for k, v in vars(record).items() if k not in self._STANDARD)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _configure_logging(log: Path | None) -> None:
    handler: logging.Handler = logging.FileHandler(log, encoding="utf-8") if log else logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # aiohttp logs a line per failed request at ERROR; the proxy's own aborts are on purpose.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the control API on ``host:port`` until ``stop`` is set, then close every route."""
    registry = Registry()
    runner = web.AppRunner(control_app(registry), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        logger.info("listening", extra={"host": host, "port": port, "version": VERSION})
        await stop.wait()
    finally:
        await registry.close()
        await runner.cleanup()
        logger.info("stopped")


async def _main(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(host, port, stop)


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in LOOPBACK_NAMES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.http.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of the control API")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="control API port (default 8475)")
    parser.add_argument("--log", type=Path, default=None, help="write the JSON log lines here (default stderr)")
    args = parser.parse_args(argv)
    if not _is_loopback(args.host):
        print(f"--host {args.host}: the fault proxy listens on loopback only (127.0.0.1)", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"--port {args.port}: must be 1..65535", file=sys.stderr)
        return 2
    _configure_logging(args.log)
    try:
        import uvloop  # noqa: PLC0415  (optional: ships with uvicorn[standard])
    except ImportError:
        run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    else:
        run = uvloop.run
    try:
        run(_main(args.host, args.port))
    except OSError as exc:  # the control port is taken
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
