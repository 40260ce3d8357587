"""The OpenAI-compatible endpoints: ``POST /v1/chat/completions`` and ``GET /v1/models``.

    request ──► upstream configured? ── yes ──► forward (aiohttp) ──► upstream's answer | 502
                      │ no
                      ▼
               embedded generator ──► paced JSON answer | paced SSE stream

Every finished request writes one log line and feeds the metrics, whichever path answered it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from system_under_test.llm.generator import generate
from system_under_test.llm.metrics import LlmMetrics
from system_under_test.llm.pacing import Pacer
from system_under_test.llm.schema import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ErrorBody,
    Usage,
    error_body,
)
from system_under_test.llm.settings import LlmSettings
from system_under_test.llm.streaming import SSE_MEDIA_TYPE, StreamHeader, completion_events
from system_under_test.llm.text import count_tokens
from system_under_test.llm.upstream import UpstreamClient, UpstreamError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"


def completions_router(
    settings: LlmSettings,
    metrics: LlmMetrics,
    upstream: Callable[[], UpstreamClient | None],
) -> APIRouter:
    """The routes; ``upstream`` returns the client the lifespan opened, or ``None`` for the embedded model."""
    completions = _Completions(settings, metrics, Pacer.from_ms(settings.base_delay_ms, settings.token_delay_ms))
    created_at = int(time.time())
    router = APIRouter(tags=["openai"])

    @router.post(
        "/v1/chat/completions",
        response_model=None,
        responses={200: {"model": ChatCompletion}, 422: {"model": ErrorBody}, 502: {"model": ErrorBody}},
    )
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        client = upstream()
        request_id = request.headers.get(REQUEST_ID_HEADER)
        if client is None:
            return await completions.generate(body, request_id)
        return await completions.forward(client, body, request_id)

    @router.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        model = (settings.upstream_model or settings.model) if settings.upstream_url else settings.model
        return {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": created_at, "owned_by": "system-under-test"}],
        }

    return router


class _Completions:
    """Answers one request on either path and accounts for it."""

    def __init__(self, settings: LlmSettings, metrics: LlmMetrics, pacer: Pacer) -> None:
        self._settings = settings
        self._metrics = metrics
        self._pacer = pacer

    async def generate(self, body: ChatCompletionRequest, request_id: str | None) -> Response:
        began = time.perf_counter()
        completion = generate(body.messages, body.token_limit(self._settings.default_max_tokens))
        usage = Usage.of(sum(count_tokens(m.content) for m in body.messages), completion.completion_tokens)
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if body.stream:
            header = StreamHeader(completion_id, created, self._settings.model)
            wants_usage = body.stream_options is not None and body.stream_options.include_usage
            events = completion_events(completion, header, self._pacer, usage=usage if wants_usage else None)
            accounted = self._account_stream(events, began, "embedded", completion.completion_tokens, request_id)
            return StreamingResponse(accounted, media_type=SSE_MEDIA_TYPE)
        await self._pacer.wait(completion.completion_tokens)
        answer = ChatCompletion(
            id=completion_id,
            created=created,
            model=self._settings.model,
            choices=[Choice(message=AssistantMessage(content=completion.text), finish_reason=completion.finish_reason)],
            usage=usage,
        )
        self._account(200, False, began, "embedded", completion.completion_tokens, request_id)
        return JSONResponse(answer.model_dump())

    async def forward(self, client: UpstreamClient, body: ChatCompletionRequest, request_id: str | None) -> Response:
        began = time.perf_counter()
        payload = body.model_dump(exclude_none=True)
        payload["model"] = self._settings.upstream_model or body.model or self._settings.model
        try:
            if body.stream:
                chunks = await client.open_stream(payload)
            else:
                data = await client.complete(payload)
        except UpstreamError as exc:
            self._metrics.upstream_calls.labels(outcome=exc.code.value).inc()
            self._account(502, body.stream, began, "upstream", 0, request_id, error=str(exc))
            body_502 = error_body(str(exc), type_="upstream_error", code=exc.code.value)
            return JSONResponse(body_502, status_code=502)
        self._metrics.upstream_calls.labels(outcome="ok").inc()
        if body.stream:
            return StreamingResponse(
                self._account_stream(chunks, began, "upstream", 0, request_id), media_type=SSE_MEDIA_TYPE
            )
        self._account(200, False, began, "upstream", _reported_completion_tokens(data), request_id)
        return JSONResponse(data)

    async def _account_stream(
        self, events: AsyncIterator[bytes], began: float, source: str, tokens: int, request_id: str | None
    ) -> AsyncIterator[bytes]:
        # A stream's latency is to its last byte; a client that hangs up still gets its request counted.
        try:
            async for event in events:
                yield event
        finally:
            self._account(200, True, began, source, tokens, request_id)

    def _account(
        self,
        status: int,
        stream: bool,
        began: float,
        source: str,
        tokens: int,
        request_id: str | None,
        *,
        error: str | None = None,
    ) -> None:
        seconds = time.perf_counter() - began
        self._metrics.observe(status=status, stream=stream, seconds=seconds, completion_tokens=tokens)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "status": status,
            "source": source,
            "stream": stream,
            "completion_tokens": tokens,
            "duration_ms": round(seconds * 1000.0, 2),
        }
        if error is not None:
            fields["error"] = error
        logger.log(logging.WARNING if status >= 500 else logging.INFO, "chat completion", extra=fields)


def _reported_completion_tokens(data: dict[str, Any]) -> int:
    usage = data.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) else 0
