"""The LLM service's composition root: settings in, a FastAPI app out.

    create_app(settings)
      ├─ lifespan: opens the upstream client (when configured), marks the app started, closes it
      ├─ /v1/chat/completions, /v1/models   (routes.py)
      ├─ /health/{live,ready,startup}        (common/health.py)
      └─ /metrics                            (common/metrics.py, own registry)

All per-app state (started flag, upstream client, metrics) hangs off the app being built, so tests
can run several apps in one process, one of them as the other's upstream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from system_under_test.common.health import HealthReport, HealthStatus, health_router
from system_under_test.common.metrics import metrics_router
from system_under_test.llm.metrics import LlmMetrics
from system_under_test.llm.routes import completions_router
from system_under_test.llm.schema import error_body, field_path
from system_under_test.llm.settings import LlmSettings
from system_under_test.llm.upstream import UpstreamClient

logger = logging.getLogger(__name__)


class _Lifecycle:
    """What the probes report: whether start-up finished, and the upstream client it opened."""

    def __init__(self) -> None:
        self.started = False
        self.upstream: UpstreamClient | None = None

    def startup(self) -> HealthReport:
        if self.started:
            return HealthReport(HealthStatus.PASS, {"lifespan": "pass"})
        return HealthReport(HealthStatus.FAIL, {"lifespan": "fail"})

    def readiness(self) -> HealthReport:
        if not self.started:
            return HealthReport(HealthStatus.FAIL, {"lifespan": "fail"})
        if self.upstream is not None:
            return self.upstream.readiness()
        return HealthReport(HealthStatus.PASS, {"generator": "pass"})


def create_app(settings: LlmSettings) -> FastAPI:
    """A ready-to-serve LLM app; ``app.state.upstream`` holds the upstream client while it runs."""
    metrics = LlmMetrics.create()
    lifecycle = _Lifecycle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.upstream_url is not None:
            lifecycle.upstream = UpstreamClient.open(
                settings.upstream_url,
                api_key=settings.upstream_api_key,
                timeout_s=settings.upstream_timeout_s,
                recheck_s=settings.upstream_recheck_s,
            )
        app.state.upstream = lifecycle.upstream
        lifecycle.started = True
        logger.info(
            "llm started",
            extra={"model": settings.model, "upstream": settings.upstream_url, "port": settings.port},
        )
        try:
            yield
        finally:
            lifecycle.started = False
            if lifecycle.upstream is not None:
                await lifecycle.upstream.aclose()
            lifecycle.upstream = app.state.upstream = None

    async def invalid_request(request: Request, exc: Exception) -> Response:
        # OpenAI's error envelope, with ``param`` naming the first offending field.
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        params = [_param(error) for error in errors]
        message = "; ".join(f"{param}: {error.get('msg', 'invalid')}" for param, error in zip(params, errors, strict=True))
        metrics.requests.labels(status="422").inc()
        body = error_body(message or str(exc), type_="invalid_request_error", param=params[0] if params else None)
        return JSONResponse(body, status_code=422)

    app = FastAPI(title="LLM service (OpenAI-compatible)", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(completions_router(settings, metrics, lambda: lifecycle.upstream))
    app.include_router(health_router(ready=lifecycle.readiness, started=lifecycle.startup))
    app.include_router(metrics_router(metrics.registry))
    return app


def _param(error: Mapping[str, Any]) -> str:
    # A body that is not JSON at all is located at ("body", <char offset>): name the body, not "[17]".
    if error.get("type") == "json_invalid":
        return "body"
    return field_path(error.get("loc", ()))
