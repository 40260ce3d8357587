"""The gateway's HTTP surface: ``POST /chat``, ``GET /status``, probes and ``/metrics``.

Everything stateful (sessions, breakers, retry budgets, the probe task) is built in the lifespan and
hangs off one ``Gateway`` object, so several apps can live in one process (tests) without sharing state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
from fastapi import FastAPI, Header, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from pydantic import BaseModel, Field

from ..common.embedding import HashingEmbedder
from ..common.health import HealthReport, HealthStatus, health_router
from ..common.metrics import metrics_router
from . import flaws
from .breaker import Transition
from .chat import ChatService, dependency_available
from .client import DependencyClient
from .faq import Faq
from .metrics import GatewayMetrics
from .modes import Language, Mode, decide_mode, language_from_header
from .monitor import HealthMonitor
from .retry import RetryBudget
from .stream_events import EVENT_SCHEMA, SSE_MEDIA_TYPE, StreamEvent, StreamRecord
from .settings import DependencySettings, GatewaySettings

_log = logging.getLogger("gateway.requests")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4000, description="The user's question.")
    user_id: str = Field(max_length=256, description="Who is asking; used only for logs.")


class SourceModel(BaseModel):
    id: str
    title: str
    score: float


class ChatResponse(BaseModel):
    message: str
    mode: Mode
    notice: str | None
    sources: list[SourceModel]
    request_id: str
    cached: bool


class ModeTracker:
    """Remembers the system's mode and since when, so /status can say how long a degradation lasts."""

    def __init__(self) -> None:
        self.mode = Mode.NORMAL
        self.since = datetime.now(UTC)

    def update(self, mode: Mode) -> bool:
        if mode is self.mode:
            return False
        self.mode, self.since = mode, datetime.now(UTC)
        return True


class Gateway:
    """The live state of one gateway process."""

    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.metrics = metrics
        self.tracker = ModeTracker()
        rng = random.Random(settings.seed)
        self.clients = {
            dep.name: self._client(dep, session, rng) for dep in (settings.vectordb, settings.llm)
        }
        self.vectordb = self.clients[settings.vectordb.name]
        self.llm = self.clients[settings.llm.name]
        self.monitor = HealthMonitor(
            list(self.clients.values()),
            interval_s=settings.probe_interval_s,
            timeout_s=settings.probe_timeout_s,
            unhealthy_after=settings.unhealthy_after,
            on_change=self._on_probe_verdict,
        )
        # None until load_index() has run: the answer index (the FAQ for static-only) is what takes time
        # to load, and a gateway without it cannot answer every mode.
        self.chat: ChatService | None = None
        self.stopping = False
        for client in self.clients.values():
            metrics.set_breaker_state(client.name, client.breaker.state)
            metrics.dependency_healthy.labels(client.name).set(1.0)
        metrics.set_mode(self.tracker.mode)

    async def load_index(self) -> None:
        """Load the FAQ index (plus the configured warm-up that models a production-size index)."""
        s = self.settings
        await asyncio.sleep(s.index_warmup_s)
        faq = await asyncio.to_thread(Faq.load, s.faq_path, HashingEmbedder(), s.faq_threshold)
        self.chat = flaws.chat_class(s.variant)(s, self.vectordb, self.llm, self.monitor, faq)

    def _client(self, dep: DependencySettings, session: aiohttp.ClientSession, rng: random.Random) -> DependencyClient:
        s = self.settings
        breaker = flaws.breaker_class(s.variant)(dep.name, dep.breaker, on_transition=self._on_transition)
        budget = RetryBudget(s.retry_budget_ratio, s.retry_budget_min_per_s)
        return flaws.client_class(s.variant)(dep, session, breaker, budget, s.backoff, rng, self.metrics)

    def _on_transition(self, transition: Transition) -> None:
        self.metrics.observe_transition(transition)
        _log.warning(
            "breaker state changed",
            extra={
                "dependency": transition.dependency,
                "from": transition.from_state.value,
                "to": transition.to_state.value,
                "reason": transition.reason,
            },
        )
        # The mode is recomputed after the transition completes (pybreaker is still inside it).
        asyncio.get_running_loop().call_soon(self.refresh_mode)

    def _on_probe_verdict(self) -> None:
        self.refresh_mode()

    def refresh_mode(self) -> Mode:
        up = {name: dependency_available(c, self.monitor) for name, c in self.clients.items()}
        mode = flaws.reported_mode(self.settings.variant, decide_mode(up[self.vectordb.name], up[self.llm.name]))
        if self.tracker.update(mode):
            self.metrics.set_mode(mode)
            _log.warning("mode changed", extra={"mode": mode.value})
        for client in self.clients.values():
            self.metrics.dependency_healthy.labels(client.name).set(float(self.monitor.healthy(client.name)))
        return mode

    def status(self) -> dict[str, Any]:
        mode = self.refresh_mode()
        dependencies: dict[str, Any] = {}
        for client in self.clients.values():
            verdict = self.monitor.verdicts[client.name]
            breaker = client.breaker
            dependencies[client.name] = {
                "breaker": breaker.state.value,
                "healthy": verdict.healthy,
                "failure_rate": round(breaker.failure_rate(), 4),
                "last_error": breaker.last_error or verdict.last_error,
                "transitions": [
                    {"from": t.from_state.value, "to": t.to_state.value, "at": _iso(t.at_wall), "reason": t.reason}
                    for t in breaker.transitions
                ],
            }
        return {"mode": mode.value, "since": _iso(self.tracker.since), "dependencies": dependencies}

    def _started(self) -> bool:
        """Index loaded and dependencies probed once (as the variant reports it)."""
        return flaws.reported_started(self.settings.variant, self.chat is not None and self.monitor.started.is_set())

    def readiness(self) -> HealthReport:
        if self.stopping or not self._started():
            return HealthReport(HealthStatus.FAIL, {"gateway": "stopping" if self.stopping else "starting"})
        mode = self.refresh_mode()
        checks = {name: ("pass" if dependency_available(c, self.monitor) else "fail")
                  for name, c in self.clients.items()}
        checks["mode"] = mode.value
        return HealthReport(HealthStatus.PASS if mode is Mode.NORMAL else HealthStatus.WARN, checks)

    def startup(self) -> HealthReport:
        if self._started():
            return HealthReport(HealthStatus.PASS, {"index-and-dependencies": "pass"})
        return HealthReport(HealthStatus.FAIL, {"index-and-dependencies": "fail"})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_app(settings: GatewaySettings) -> FastAPI:
    """Build the gateway app; nothing connects or probes until the lifespan starts."""
    settings = flaws.adjust_settings(settings)
    metrics = GatewayMetrics()
    holder: dict[str, Gateway] = {}

    def gateway() -> Gateway:
        return holder["gateway"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limit = max(settings.vectordb.pool_size, settings.llm.pool_size) * 2
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as session:
            gw = Gateway(settings, metrics, session)
            holder["gateway"] = gw
            probes = asyncio.create_task(gw.monitor.run(), name="dependency-probes")
            tasks = [probes]
            try:
                tasks.extend(await flaws.load_index(settings.variant, gw.load_index))
                yield
            finally:
                gw.stopping = True
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if gw.chat is not None:
                    await gw.chat.close()

    app = FastAPI(
        title="Tsubame support chatbot gateway",
        version="0.1.0",
        description="The reference RAG chatbot of the chaos harness. Degrading is the answer: a dependency "
        "failure never becomes a 5xx.",
        lifespan=lifespan,
    )
    app.include_router(
        health_router(
            ready=lambda: gateway().readiness(),
            started=lambda: gateway().startup(),
        )
    )
    app.include_router(metrics_router(metrics.registry))

    @app.post("/chat", response_model=ChatResponse)
    async def chat(
        body: ChatRequest,
        response: Response,
        accept_language: str | None = Header(default=None),
        x_request_id: str | None = Header(default=None),
    ) -> ChatResponse:
        """Answer a question in the best mode the dependencies allow right now."""
        started = time.monotonic()
        request_id = x_request_id if x_request_id and _REQUEST_ID.match(x_request_id) else uuid.uuid4().hex
        language: Language = language_from_header(accept_language)
        service = gateway().chat
        if service is None:  # only the early-ready variant serves before its index is loaded
            raise StarletteHTTPException(503, "the answer index is still loading")
        outcome = await service.answer(body.message, language)
        elapsed = time.monotonic() - started
        metrics.requests.labels(outcome.mode.value, "200").inc()
        metrics.latency.labels(outcome.mode.value).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        _log.info(
            "chat",
            extra={
                "request_id": request_id,
                "user_id": body.user_id,
                "mode": outcome.mode.value,
                "status": 200,
                "latency_ms": round(elapsed * 1000, 2),
                "cached": outcome.cached,
                "retries": sum(t.retries for t in outcome.traces.values()),
                "dependencies": {name: t.as_dict() for name, t in outcome.traces.items()},
            },
        )
        return ChatResponse(
            message=outcome.message,
            mode=outcome.mode,
            notice=outcome.notice,
            sources=[SourceModel(id=s.id, title=s.title, score=s.score) for s in outcome.sources],
            request_id=request_id,
            cached=outcome.cached,
        )

    @app.post(
        "/chat/stream",
        response_class=StreamingResponse,
        responses={200: {"description": "Server-sent events: meta, token (repeated), done.",
                         "content": {SSE_MEDIA_TYPE: {"schema": EVENT_SCHEMA}}}},
    )
    async def chat_stream(
        body: ChatRequest,
        accept_language: str | None = Header(default=None),
        x_request_id: str | None = Header(default=None),
    ) -> StreamingResponse:
        """The answer as it is generated: ``meta`` once the mode is known, ``token`` events, ``done`` last."""
        started = time.monotonic()
        request_id = x_request_id if x_request_id and _REQUEST_ID.match(x_request_id) else uuid.uuid4().hex
        language: Language = language_from_header(accept_language)
        service = gateway().chat
        if service is None:
            raise StarletteHTTPException(503, "the answer index is still loading")
        record = StreamRecord(request_id)
        events = service.stream_answer(body.message, language, record)
        # Headers go out with the first event: until the mode is known there is nothing to promise, and a
        # failure this early could still become a proper status (only a flawed variant lets one happen).
        first = await anext(events)
        relay = _stream_body(events, first, record, body.user_id, started)
        return StreamingResponse(relay, media_type=SSE_MEDIA_TYPE,
                                 headers={"X-Request-ID": request_id, "Cache-Control": "no-cache"})

    async def _stream_body(
        events: AsyncGenerator[StreamEvent, None], first: StreamEvent, record: StreamRecord, user_id: str,
        started: float,
    ) -> AsyncIterator[bytes]:
        first_token_s: float | None = None
        failure: str | None = None
        try:
            async with aclosing(events):
                yield first.encode()
                async for event in events:
                    if event.name == "token" and first_token_s is None:
                        first_token_s = time.monotonic() - started
                    yield event.encode()
        except Exception as exc:  # only a flawed variant gets here: the connection is aborted
            failure = type(exc).__name__
            raise
        finally:
            _account_stream(record, user_id, started, first_token_s, failure)

    def _account_stream(
        record: StreamRecord, user_id: str, started: float, first_token_s: float | None, failure: str | None
    ) -> None:
        elapsed = time.monotonic() - started
        mode = record.mode.value if record.mode is not None else "error"
        outcome = record.outcome or ("aborted" if failure else "abandoned")  # abandoned: the user hung up
        metrics.requests.labels(mode, "200").inc()
        metrics.latency.labels(mode).observe(elapsed)
        metrics.stream_answers.labels(mode, outcome).inc()
        if first_token_s is not None:
            metrics.first_token.labels(mode).observe(first_token_s)
        _log.log(
            logging.WARNING if outcome != "complete" else logging.INFO,
            "chat stream",
            extra={
                "request_id": record.request_id,
                "user_id": user_id,
                "mode": mode,
                "status": 200,
                "outcome": outcome,
                "tokens": record.tokens,
                "ttft_ms": round(first_token_s * 1000, 2) if first_token_s is not None else None,
                "latency_ms": round(elapsed * 1000, 2),
                "cached": record.cached,
                "interruption": record.interruption,
                "error": failure,
                "retries": sum(t.retries for t in record.traces.values()),
                "dependencies": {name: t.as_dict() for name, t in record.traces.items()},
            },
        )

    @app.get("/status")
    async def status() -> dict[str, Any]:
        """The system's view: mode, since when, and each dependency's breaker and probe verdict."""
        return gateway().status()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers a body it cannot decode (not UTF-8) with 400; the contract says invalid
        # input is a 422 naming the field, and here the field is the body itself.
        if exc.status_code == 400 and request.url.path in ("/chat", "/chat/stream"):
            detail = [{"loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "type": "json_invalid"}]
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug must still not leak a traceback; it is logged with the request path.
        _log.exception("unhandled error", extra={"path": request.url.path})
        metrics.requests.labels("error", "500").inc()
        return Response('{"detail": "internal error"}', status_code=500, media_type="application/json")

    return app
