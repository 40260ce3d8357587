"""What ``POST /chat/stream`` sends: ``meta`` once, ``token`` events, ``done`` last (contract section C).

    event: meta     {"request_id", "mode", "notice", "sources", "cached"}   once the mode is known
    event: token    {"text"}                                                 repeated
    event: done     {"outcome": "complete" | "partial", "mode", "notice", "tokens"}

A degraded answer is streamed as tokens too, so a client has one way to read every answer. A stream
that broke after its first token ends with ``done`` ``partial`` and the interruption notice: the user
sees part of an answer and is told it is not all of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .client import CallTrace
from .modes import Mode

Outcome = Literal["complete", "partial"]
SSE_MEDIA_TYPE = "text/event-stream"

# Degraded answers are cut into pieces of a few characters (a word in English), like a model's tokens.
_PIECE = re.compile(r"\s*\S{1,8}|\s+$")


@dataclass(frozen=True)
class StreamEvent:
    name: Literal["meta", "token", "done"]
    data: dict[str, Any]

    def encode(self) -> bytes:
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"event: {self.name}\ndata: {payload}\n\n".encode()


@dataclass
class StreamRecord:
    """What one streamed answer did, filled in as it goes, for the request's log line and metrics."""

    request_id: str
    mode: Mode | None = None
    outcome: Outcome | None = None
    cached: bool = False
    tokens: int = 0
    interruption: str | None = None
    traces: dict[str, CallTrace] = field(default_factory=dict)


def meta(record: StreamRecord, mode: Mode, notice: str | None, sources: list[dict[str, Any]], cached: bool) -> StreamEvent:
    record.mode, record.cached = mode, cached
    return StreamEvent("meta", {"request_id": record.request_id, "mode": mode.value, "notice": notice,
                                "sources": sources, "cached": cached})


def token(record: StreamRecord, text: str) -> StreamEvent:
    record.tokens += 1
    return StreamEvent("token", {"text": text})


def done(record: StreamRecord, outcome: Outcome, notice: str | None) -> StreamEvent:
    record.outcome = outcome
    mode = record.mode.value if record.mode is not None else None
    return StreamEvent("done", {"outcome": outcome, "mode": mode, "notice": notice, "tokens": record.tokens})


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    payload = {"type": "object", "additionalProperties": False, "required": list(data["properties"]), **data}
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": payload},
        },
    }


_MODES = [mode.value for mode in Mode]
_NOTICE = {"type": ["string", "null"]}

# What the OpenAPI document says one event of the stream is (OpenAPI 3.1: ``schema`` describes each
# event of a text/event-stream), so Schemathesis checks every event the gateway sends.
EVENT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _event("meta", {"properties": {
            "request_id": {"type": "string"},
            "mode": {"enum": _MODES},
            "notice": _NOTICE,
            "sources": {"type": "array", "items": {
                "type": "object", "required": ["id", "title", "score"],
                "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "score": {"type": "number"}},
            }},
            "cached": {"type": "boolean"},
        }}),
        _event("token", {"properties": {"text": {"type": "string", "minLength": 1}}}),
        _event("done", {"properties": {
            "outcome": {"enum": ["complete", "partial"]},
            "mode": {"enum": _MODES},
            "notice": _NOTICE,
            "tokens": {"type": "integer", "minimum": 0},
        }}),
    ]
}


def split_for_stream(text: str) -> list[str]:
    """Pieces whose concatenation is ``text``: words of up to 8 characters with their leading space."""
    return _PIECE.findall(text)
