"""The OpenAI chat-completions wire format, as far as this service reads and writes it.

Requests accept (and ignore, or pass upstream) any extra OpenAI parameter such as ``top_p`` or
``stop``, so a stock OpenAI client works against the service unchanged. Errors use OpenAI's
``{"error": {...}}`` body, which OpenAI client libraries know how to surface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a final chunk that carries the usage."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``; ``max_completion_tokens`` is OpenAI's newer name for ``max_tokens``."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def token_limit(self, default: int) -> int:
        """The requested completion limit, or ``default`` when the request names none."""
        return self.max_completion_tokens or self.max_tokens or default


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class ChatCompletion(BaseModel):
    """A non-streaming answer."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error envelope."""

    error: ErrorDetail


def error_body(message: str, *, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error body as JSON-ready data."""
    return ErrorBody(error=ErrorDetail(message=message, type=type_, param=param, code=code)).model_dump()


def field_path(location: Sequence[int | str]) -> str:
    """A validation error's location as OpenAI names parameters: ``messages[0].role``.

    FastAPI prefixes body fields with ``"body"``; a location of just ``("body",)`` (the body itself
    is missing or not JSON) is reported as ``"body"``.
    """
    parts = list(location[1:] if location and location[0] == "body" else location)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"
