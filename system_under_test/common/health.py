"""Liveness, readiness and startup probes in the ``application/health+json`` format.

Kubernetes semantics: liveness failing means "restart me", readiness failing means "send me no
traffic", startup gates both. A degraded service that still answers is *ready* with status ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fastapi import APIRouter
from fastapi.responses import JSONResponse

HEALTH_MEDIA_TYPE = "application/health+json"


class HealthJSONResponse(JSONResponse):
    """JSON with the health media type, so the OpenAPI schema documents what the probes really send."""

    media_type = HEALTH_MEDIA_TYPE


class HealthStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class HealthReport:
    """One probe's answer: an overall status and named checks that explain it."""

    status: HealthStatus
    checks: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> JSONResponse:
        code = 503 if self.status is HealthStatus.FAIL else 200
        body = {"status": self.status.value, "checks": self.checks}
        return HealthJSONResponse(body, status_code=code)


def _alive() -> HealthReport:
    return HealthReport(HealthStatus.PASS, {"process": "pass"})


def health_router(
    *,
    ready: Callable[[], HealthReport],
    started: Callable[[], HealthReport],
    live: Callable[[], HealthReport] = _alive,
) -> APIRouter:
    """Routes ``/health/live``, ``/health/ready`` and ``/health/startup`` to the given checks."""
    router = APIRouter(tags=["probes"])
    failing: dict[int | str, dict[str, object]] = {
        503: {"description": "The check fails", "content": {HEALTH_MEDIA_TYPE: {}}}
    }

    @router.get("/health/live", response_class=HealthJSONResponse, responses=failing)
    async def health_live() -> JSONResponse:
        return live().to_response()

    @router.get("/health/ready", response_class=HealthJSONResponse, responses=failing)
    async def health_ready() -> JSONResponse:
        return ready().to_response()

    @router.get("/health/startup", response_class=HealthJSONResponse, responses=failing)
    async def health_startup() -> JSONResponse:
        return started().to_response()

    return router
