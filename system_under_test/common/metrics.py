"""Prometheus exposition: each app owns its registry, so tests can build many apps in one process."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    """``GET /metrics`` in the Prometheus text format for ``registry``."""
    router = APIRouter(tags=["metrics"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
