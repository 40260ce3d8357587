"""Server-sent events for ``"stream": true``, framed exactly as OpenAI frames them.

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant", "content": ""}}]}
    data: {... "delta": {"content": "Based on the"} ...}          paced: base delay, then per token
    data: {... "delta": {}, "finish_reason": "stop"}
    data: {... "choices": [], "usage": {...}}                      only with stream_options.include_usage
    data: [DONE]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from system_under_test.llm.generator import Completion
from system_under_test.llm.pacing import Pacer
from system_under_test.llm.schema import Usage

SSE_MEDIA_TYPE = "text/event-stream"
DONE_EVENT = b"data: [DONE]\n\n"
# Several tokens per event: one event per token would spend more time framing than the model "thinks".
TOKENS_PER_CHUNK = 4


@dataclass(frozen=True)
class StreamHeader:
    """The fields every chunk of one completion repeats."""

    id: str
    created: int
    model: str


def sse_event(data: dict[str, Any]) -> bytes:
    """One ``data:`` event; JSON keeps non-ASCII text readable and never contains a raw newline."""
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def completion_events(
    completion: Completion,
    header: StreamHeader,
    pacer: Pacer,
    *,
    usage: Usage | None = None,
) -> AsyncIterator[bytes]:
    """The events of ``completion``; ``usage`` given means a final usage chunk is wanted."""
    schedule = pacer.schedule()
    yield sse_event(_chunk(header, {"role": "assistant", "content": ""}))
    tokens = completion.tokens
    for start in range(0, len(tokens), TOKENS_PER_CHUNK):
        piece = tokens[start : start + TOKENS_PER_CHUNK]
        await schedule.release(len(piece))
        yield sse_event(_chunk(header, {"content": "".join(piece)}))
    if not tokens:
        await schedule.release(0)
    yield sse_event(_chunk(header, {}, finish_reason=completion.finish_reason))
    if usage is not None:
        yield sse_event(_envelope(header, [], usage=usage.model_dump()))
    yield DONE_EVENT


def _chunk(header: StreamHeader, delta: dict[str, str], *, finish_reason: str | None = None) -> dict[str, Any]:
    return _envelope(header, [{"index": 0, "delta": delta, "finish_reason": finish_reason}])


def _envelope(header: StreamHeader, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": header.id,
        "object": "chat.completion.chunk",
        "created": header.created,
        "model": header.model,
        "choices": choices,
        **extra,
    }
