"""Each fault kind's parameters, read from the JSON the control API receives.

The server validates on its own (it is a separate process any client may call), so a bad value is a
400 naming the field (``params.seconds``) instead of a fault that misbehaves later. Every kind's
parameters end up in a frozen dataclass with its defaults filled in, which is also what
``GET /routes`` shows back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias

from core.errors import UsageError

RetryAfterFormat: TypeAlias = Literal["seconds", "ms", "date", "none"]
RETRY_AFTER_FORMATS: tuple[RetryAfterFormat, ...] = ("seconds", "ms", "date", "none")
MAX_SECONDS = 3600.0


class RuleError(UsageError):
    """A rule (or route) the control API refuses; ``field`` is the JSON path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"{field} {message}")


_MISSING: Any = object()


class ParamReader:
    """Typed reads from one ``params`` object; each error names ``params.<name>``."""

    def __init__(self, raw: object, allowed: frozenset[str]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise RuleError("params", "must be an object")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise RuleError(f"params.{unknown[0]}", f"is not a parameter of this kind (known: {sorted(allowed)})")
        self._raw: Mapping[str, Any] = raw

    def _get(self, name: str, default: Any) -> Any:
        value = self._raw.get(name, default)
        if value is _MISSING:
            raise RuleError(f"params.{name}", "is required")
        return value

    def number(self, name: str, default: float | None = _MISSING, *, low: float = 0.0, high: float = MAX_SECONDS,
               low_open: bool = False) -> float | None:
        value = self._get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RuleError(f"params.{name}", f"must be a number, got {value!r}")
        if value < low or (low_open and value == low) or value > high:
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            raise RuleError(f"params.{name}", f"must be {bound} and <= {high:g}, got {value!r}")
        return float(value)

    def seconds(self, name: str, default: float = _MISSING) -> float:
        value = self.number(name, default)
        assert value is not None  # a float default never yields None
        return value

    def integer(self, name: str, default: int | None = _MISSING, *, low: int = 0, high: int = 2**31) -> int | None:
        value = self._get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuleError(f"params.{name}", f"must be an integer, got {value!r}")
        if not low <= value <= high:
            raise RuleError(f"params.{name}", f"must be between {low} and {high}, got {value}")
        return value

    def count(self, name: str) -> int:
        value = self.integer(name)
        assert value is not None
        return value

    def status(self, name: str, default: int = _MISSING) -> int:
        value = self.integer(name, default, low=400, high=599)
        assert value is not None
        return value

    def string(self, name: str, default: str = _MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise RuleError(f"params.{name}", f"must be a string, got {value!r}")
        return value

    def header_value(self, name: str, default: str = "text/html; charset=utf-8") -> str:
        value = self.string(name, default)
        if not value.strip() or any(c in value for c in "\r\n\0"):
            raise RuleError(f"params.{name}", f"must be a non-empty header value on one line, got {value!r}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in options:
            raise RuleError(f"params.{name}", f"must be one of {list(options)}, got {value!r}")
        return value


# -- one dataclass per kind ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpError:
    status: int
    body: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class RateLimit:
    requests: int | None = None
    window_s: float = 1.0
    retry_after_s: float | None = None
    retry_after_format: RetryAfterFormat = "seconds"
    status: int = 429


@dataclass(frozen=True)
class Delay:
    seconds: float
    phase: Literal["request", "response"] = "request"


@dataclass(frozen=True)
class StreamDelay:
    """``first_token_delay`` and ``token_delay``."""

    seconds: float


@dataclass(frozen=True)
class CutAfter:
    events: int


@dataclass(frozen=True)
class ErrorEvent:
    after: int
    type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class MalformedEvent:
    at: int


@dataclass(frozen=True)
class Truncate:
    bytes: int


@dataclass(frozen=True)
class MalformedJson:
    pass


@dataclass(frozen=True)
class WrongContentType:
    content_type: str = "text/html; charset=utf-8"


Params: TypeAlias = (HttpError | RateLimit | Delay | StreamDelay | CutAfter | ErrorEvent | MalformedEvent | Truncate
                     | MalformedJson | WrongContentType)


def provider_error_body(status: int, message: str | None = None) -> str:
    """A JSON error shaped like the ones LLM providers send for ``status``."""
    kind = {429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}.get(status)
    if kind is None:
        kind = "api_error" if status >= 500 else "invalid_request_error"
    text = message or f"injected HTTP {status}"
    return json.dumps({"error": {"type": kind, "message": text}})


def _http_error(p: ParamReader) -> HttpError:
    status = p.status("status")
    return HttpError(status, p.string("body", provider_error_body(status)), p.number("retry_after_s", None))


def _rate_limit(p: ParamReader) -> RateLimit:
    window = p.number("window_s", 1.0, low_open=True)
    assert window is not None
    fmt = p.choice("retry_after_format", RETRY_AFTER_FORMATS, "seconds")
    return RateLimit(p.integer("requests", None, low=1), window, p.number("retry_after_s", None),
                     fmt,  # type: ignore[arg-type]  # checked against RETRY_AFTER_FORMATS just above
                     p.status("status", 429))


def _delay(p: ParamReader) -> Delay:
    phase = p.choice("phase", ("request", "response"), "request")
    return Delay(p.seconds("seconds"), phase)  # type: ignore[arg-type]  # checked just above


_KINDS: dict[str, tuple[frozenset[str], Callable[[ParamReader], Params]]] = {
    "http_error": (frozenset({"status", "body", "retry_after_s"}), _http_error),
    "rate_limit": (frozenset({"requests", "window_s", "retry_after_s", "retry_after_format", "status"}), _rate_limit),
    "delay": (frozenset({"seconds", "phase"}), _delay),
    "first_token_delay": (frozenset({"seconds"}), lambda p: StreamDelay(p.seconds("seconds"))),
    "token_delay": (frozenset({"seconds"}), lambda p: StreamDelay(p.seconds("seconds"))),
    "cut_after": (frozenset({"events"}), lambda p: CutAfter(p.count("events"))),
    "error_event": (frozenset({"after", "type", "message"}),
                    lambda p: ErrorEvent(p.count("after"), p.string("type", "overloaded_error"),
                                         p.string("message", "Overloaded"))),
    "malformed_event": (frozenset({"at"}), lambda p: MalformedEvent(p.count("at"))),
    "truncate": (frozenset({"bytes"}), lambda p: Truncate(p.count("bytes"))),
    "malformed_json": (frozenset(), lambda p: MalformedJson()),
    "wrong_content_type": (frozenset({"content_type"}), lambda p: WrongContentType(p.header_value("content_type"))),
}
KINDS: tuple[str, ...] = tuple(_KINDS)
# The kinds that answer in the proxy's place (the upstream is never called); the first rule of these
# whose match and roll hit decides the answer.
SHORT_CIRCUIT = frozenset({"http_error", "rate_limit", "wrong_content_type"})
STREAM_KINDS = frozenset({"first_token_delay", "token_delay", "cut_after", "error_event", "malformed_event"})
BODY_KINDS = frozenset({"truncate", "malformed_json"})


def parse_params(kind: str, raw: object) -> Params:
    """The validated parameters of ``kind``; raises ``RuleError`` naming the field."""
    try:
        allowed, build = _KINDS[kind]
    except KeyError:
        raise RuleError("kind", f"must be one of {list(KINDS)}, got {kind!r}") from None
    return build(ParamReader(raw, allowed))


def params_json(params: Params) -> dict[str, Any]:
    return asdict(params)
