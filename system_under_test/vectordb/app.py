"""The vector-db HTTP service: passage search and the semantic answer cache, with probes and metrics.

The index is built in the lifespan, before uvicorn accepts connections, so a process that answers at
all has its index; the startup and readiness probes still check it, because an app can be served (or
tested) without its lifespan having run. Everything the app owns (index, cache, metrics registry) is
created per ``create_app`` call: two apps in one process share nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.common.health import HealthReport, HealthStatus, health_router
from system_under_test.common.metrics import metrics_router
from system_under_test.vectordb.cache import SemanticCache
from system_under_test.vectordb.corpus import load_corpus
from system_under_test.vectordb.index import Index, open_index
from system_under_test.vectordb.settings import Backend, VectorDbSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_QUERY_CHARS = 4000
MAX_ANSWER_CHARS = 20_000
MAX_TOP_K = 20
_ENDPOINTS = frozenset(
    {"/search", "/cache/search", "/cache/put", "/health/live", "/health/ready", "/health/startup", "/metrics"}
)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(default=3, ge=1, le=MAX_TOP_K)


class SearchHit(BaseModel):
    id: str
    title: str
    text: str
    score: float


class SearchResponse(BaseModel):
    hits: list[SearchHit]


class CacheSearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)


class CachedAnswer(BaseModel):
    query: str
    answer: str
    similarity: float


class CacheSearchResponse(BaseModel):
    hit: CachedAnswer | None


class CachePutRequest(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)


class _Metrics:
    """The service's Prometheus series, registered in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "vectordb_requests", "HTTP requests by endpoint and status code.", ["endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "vectordb_request_duration_seconds", "HTTP request latency by endpoint.", ["endpoint"],
            buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self.cache_lookups = Counter(
            "vectordb_cache_lookups", "Answer cache lookups by result (hit or miss).", ["result"],
            registry=registry,
        )
        self.index_passages = Gauge("vectordb_index_passages", "Passages in the search index.", registry=registry)
        self.cache_entries = Gauge("vectordb_cache_entries", "Entries in the answer cache.", registry=registry)


class _RequestMetrics:
    """Pure ASGI middleware counting every request, including 422s that never reach an endpoint.

    Unknown paths are labelled ``other`` so a scanner cannot blow up the number of series.
    """

    def __init__(self, app: ASGIApp, metrics: _Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope["path"]
        endpoint = path if path in _ENDPOINTS else "other"
        status = 500  # if the app raises before starting a response, the server answers 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self._app(scope, receive, send_and_record_status)
        finally:
            self._metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self._metrics.requests.labels(endpoint, str(status)).inc()


def _build_index(settings: VectorDbSettings, embedder: HashingEmbedder) -> Index:
    passages = load_corpus(settings.corpus_path)
    index = open_index(settings.backend, embedder.dim, qdrant_url=settings.qdrant_url)
    index.add(passages, embedder.embed_many([p.searchable_text for p in passages]))
    return index


def create_app(settings: VectorDbSettings) -> FastAPI:
    """The vector-db app for ``settings``; its index is loaded when the app's lifespan starts."""
    embedder = HashingEmbedder(settings.dim)
    cache = SemanticCache(embedder, threshold=settings.cache_threshold, max_entries=settings.cache_max_entries)
    registry = CollectorRegistry()
    metrics = _Metrics(registry)
    loaded: list[Index] = []  # empty until the lifespan has built the index; the one mutable cell

    def current_index() -> Index:
        if not loaded:
            raise HTTPException(status_code=503, detail="the search index is not loaded yet")
        return loaded[0]

    metrics.index_passages.set_function(lambda: float(len(loaded[0])) if loaded else 0.0)
    metrics.cache_entries.set_function(lambda: float(len(cache)))

    # A remote (or local-mode Python) Qdrant blocks; keep it off the event loop. The numpy index
    # answers in microseconds, where a thread hop would cost more than the search.
    offload = settings.backend is Backend.QDRANT

    async def run(call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call) if offload else call()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            index = await asyncio.to_thread(_build_index, settings, embedder)
        except Exception as exc:
            # uvicorn logs the traceback and exits 3; this line says what went wrong in one line.
            log.error("cannot build the search index: %s", exc, extra={"corpus": str(settings.corpus_path)})
            raise
        loaded.append(index)
        log.info(
            "index loaded",
            extra={
                "passages": len(index),
                "backend": settings.backend.value,
                "dim": settings.dim,
                "corpus": str(settings.corpus_path),
                "load_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        try:
            yield
        finally:
            loaded.clear()
            index.close()

    def index_report() -> HealthReport:
        if loaded:
            return HealthReport(HealthStatus.PASS, {"index": "pass"})
        return HealthReport(HealthStatus.FAIL, {"index": "not loaded"})

    app = FastAPI(title="vector-db", version="0.1.0", lifespan=lifespan)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    app.include_router(health_router(ready=index_report, started=index_report))
    app.include_router(metrics_router(registry))

    @app.post("/search")
    async def search(request: SearchRequest) -> SearchResponse:
        """The ``top_k`` passages most similar to the query, best first; none if nothing overlaps."""
        index = current_index()
        vector = embedder.embed(request.query)
        if not vector.any():
            return SearchResponse(hits=[])
        hits = await run(lambda: index.search(vector, request.top_k))
        # A score at or below zero means no shared feature, only hashing noise: not a hit.
        return SearchResponse(
            hits=[
                SearchHit(id=h.passage.id, title=h.passage.title, text=h.passage.text, score=round(h.score, 4))
                for h in hits
                if h.score > 0.0
            ]
        )

    @app.post("/cache/search")
    async def cache_search(request: CacheSearchRequest) -> CacheSearchResponse:
        """The cached answer to the most similar earlier query, or ``null`` below the threshold."""
        hit = cache.search(request.query)
        metrics.cache_lookups.labels("hit" if hit else "miss").inc()
        if hit is None:
            return CacheSearchResponse(hit=None)
        return CacheSearchResponse(
            hit=CachedAnswer(query=hit.query, answer=hit.answer, similarity=round(hit.similarity, 4))
        )

    @app.post("/cache/put", status_code=204, response_class=Response)
    async def cache_put(request: CachePutRequest) -> Response:
        """Remember the answer to a query; the least recently used entry goes when the cache is full."""
        cache.put(request.query, request.answer)
        return Response(status_code=204)

    return app
