"""HTTP fault specs: what the HTTP fault proxy can do to the requests and answers of one edge.

    spec (validated, frozen)            to_rule(seed)                      the proxy (faults.http.server)
    ─────────────────────────────       ──────────────────────────────     ──────────────────────────────
    HttpError, RateLimit,               {"id": "harness-<kind>-<hex>",      rolls ``probability`` per
    Delay, FirstTokenDelay, TokenDelay,  "kind", "match": {method, path,    matching request with its own
    CutAfter, ErrorEvent,                body}, "probability", "seed",      random.Random(seed), then
    MalformedEvent, Truncate,            "params": {the kind's own}}        answers, holds or breaks it
    MalformedJson, WrongContentType

Toxiproxy sees bytes, so it cannot answer 429 or cut a stream after its third event; LLM providers
fail exactly that way (facts.md: 429 with ``Retry-After``/``retry-after-ms``, 503/529 overload, an
``event: error`` inside a stream that answered 200). These faults sit one level up, per request, so
``probability`` means a share of *requests*, not of pooled connections.

Every spec shares ``method``, ``path`` and ``body`` (regular expressions searched in the request; an
empty one matches everything), ``probability`` (0 < p <= 1) and ``seed``. A target is a service behind
an edge or an edge name, resolved like a network fault's; the edge must have an ``http_proxy_port``.
``validate()`` refuses every bad value naming its parameter, regexes that do not compile included, so
nothing half-made reaches the proxy. Rule ids start with ``harness-`` so stale cleanup can tell ours.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

from core.errors import FaultParameterError
from core.topology import Edge, Topology

from ..base import FaultSpec
from ..network_specs import resolve_edge

RULE_PREFIX = "harness-"
MAX_S = 3600.0  # an hour: a longer hold is almost certainly a unit mistake (ms written as seconds)
RETRY_AFTER_FORMATS = ("seconds", "ms", "date", "none")
DELAY_PHASES = ("request", "response")
_METHOD = re.compile(r"^[A-Za-z]{1,16}$")


@dataclass(frozen=True, kw_only=True)
class HttpFault(FaultSpec):
    """A fault on the HTTP requests of one edge that has an HTTP fault route."""

    method: str = ""
    path: str = ""
    body: str = ""
    probability: float = 1.0
    seed: int = 0
    kind: ClassVar[str] = "http"

    def validate(self) -> None:
        super().validate()
        ok = isinstance(self.method, str) and (self.method == "" or _METHOD.match(self.method) is not None)
        self._require(ok, "method", f"must be an HTTP method such as POST, got {self.method!r}")
        self._regex("path", self.path)
        self._regex("body", self.body)
        p = self.probability
        ok = isinstance(p, int | float) and not isinstance(p, bool) and 0.0 < p <= 1.0
        self._require(ok, "probability", f"must be within 0..1 (above 0), got {p!r}")
        self._int("seed", self.seed, 0, 2**63 - 1)

    def params(self) -> dict[str, Any]:
        """The rule's ``params``: the kind's own parameters, optional ones left out when unset."""
        return {}

    def match(self) -> dict[str, str]:
        return {k: v for k, v in (("method", self.method.upper()), ("path", self.path), ("body", self.body)) if v}

    def to_rule(self, seed: int | None = None) -> dict[str, Any]:
        """The JSON rule ``POST /routes/{edge}/faults`` takes; ``seed`` overrides the spec's own."""
        return {
            "id": f"{RULE_PREFIX}{self.kind}-{secrets.token_hex(3)}",
            "kind": self.kind,
            "match": self.match(),
            "probability": float(self.probability),
            "seed": self.seed if seed is None else seed,
            "params": self.params(),
        }

    def describe(self) -> str:
        """``http_error on llm (status=503, probability=0.5)``: only what differs from the defaults."""
        shown = []
        for f in dataclasses.fields(self):
            if f.name in ("target", "seed"):  # the seed is journaled with the parameters, not in labels
                continue
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                shown.append(f"{f.name}={value}")
        return f"{self.kind} on {self.target}" + (f" ({', '.join(shown)})" if shown else "")

    # -- helpers for validate() ------------------------------------------------------------------

    def _regex(self, parameter: str, value: object) -> None:
        self._require(isinstance(value, str), parameter, f"must be a regular expression, got {value!r}")
        try:
            re.compile(str(value))
        except re.error as exc:
            raise FaultParameterError(self.kind, parameter, f"is not a valid regular expression ({exc}): {value!r}") from None

    def _int(self, parameter: str, value: object, low: int, high: int) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        self._require(ok, parameter, f"must be a whole number within {low}..{high}, got {value!r}")

    def _seconds(self, parameter: str, value: object, low: float = 0.0, high: float = MAX_S,
                 *, above: bool = False) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
        ok = ok and not (above and value == low)
        bound = f"above {low:g} and at most {high:g}" if above else f"within {low:g}..{high:g}"
        self._require(ok, parameter, f"must be a number of seconds {bound}, got {value!r}")

    def _text(self, parameter: str, value: object, *, empty: bool = True) -> None:
        ok = isinstance(value, str) and (empty or value.strip() != "")
        self._require(ok, parameter, "must be a non-empty string" if not empty else f"must be a string, got {value!r}")


@dataclass(frozen=True)
class HttpError(HttpFault):
    """Answer ``status`` at once without calling the upstream; ``retry_after_s`` adds ``Retry-After``.
    ``error_body`` is the rule's ``params.body`` (``body`` already names the request-body match);
    empty, the proxy answers a JSON error shaped like providers send."""

    status: int
    error_body: str = ""
    retry_after_s: float | None = None
    kind: ClassVar[str] = "http_error"

    def validate(self) -> None:
        super().validate()
        self._int("status", self.status, 400, 599)
        self._text("error_body", self.error_body)
        if self.retry_after_s is not None:
            self._seconds("retry_after_s", self.retry_after_s)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.error_body:
            out["body"] = self.error_body
        if self.retry_after_s is not None:
            out["retry_after_s"] = float(self.retry_after_s)
        return out


@dataclass(frozen=True)
class RateLimit(HttpFault):
    """429 beyond ``requests`` per ``window_s`` (a token bucket, full at start), or for every hit when
    ``requests`` is unset. ``Retry-After`` is ``retry_after_s`` or the time until the next token, written
    as ``retry_after_format``: ``seconds``, ``ms`` (``retry-after-ms`` too), ``date`` or ``none``."""

    requests: int | None = None
    window_s: float = 1.0
    retry_after_s: float | None = None
    retry_after_format: str = "seconds"
    status: int = 429
    kind: ClassVar[str] = "rate_limit"

    def validate(self) -> None:
        super().validate()
        if self.requests is not None:
            self._int("requests", self.requests, 1, 1_000_000)
        self._seconds("window_s", self.window_s, above=True)
        if self.retry_after_s is not None:
            self._seconds("retry_after_s", self.retry_after_s)
        self._require(self.retry_after_format in RETRY_AFTER_FORMATS, "retry_after_format",
                      f"must be one of {', '.join(RETRY_AFTER_FORMATS)}, got {self.retry_after_format!r}")
        self._int("status", self.status, 400, 599)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"window_s": float(self.window_s), "retry_after_format": self.retry_after_format,
                               "status": self.status}
        if self.requests is not None:
            out["requests"] = self.requests
        if self.retry_after_s is not None:
            out["retry_after_s"] = float(self.retry_after_s)
        return out


@dataclass(frozen=True)
class Delay(HttpFault):
    """Hold each matching request ``seconds`` before forwarding it (``phase`` request), or hold the
    answer's head that long after the upstream answered (``phase`` response)."""

    seconds: float
    phase: str = "request"
    kind: ClassVar[str] = "delay"

    def validate(self) -> None:
        super().validate()
        self._seconds("seconds", self.seconds)
        self._require(self.phase in DELAY_PHASES, "phase", f"must be one of {', '.join(DELAY_PHASES)}, got {self.phase!r}")

    def params(self) -> dict[str, Any]:
        return {"seconds": float(self.seconds), "phase": self.phase}


@dataclass(frozen=True)
class FirstTokenDelay(HttpFault):
    """SSE answers only: hold ``seconds`` before forwarding the first event (a model slow to start)."""

    seconds: float
    kind: ClassVar[str] = "first_token_delay"

    def validate(self) -> None:
        super().validate()
        self._seconds("seconds", self.seconds)

    def params(self) -> dict[str, Any]:
        return {"seconds": float(self.seconds)}


@dataclass(frozen=True)
class TokenDelay(HttpFault):
    """SSE answers only: wait ``seconds`` before each event after the first (a slow stream)."""

    seconds: float
    kind: ClassVar[str] = "token_delay"

    def validate(self) -> None:
        super().validate()
        self._seconds("seconds", self.seconds)

    def params(self) -> dict[str, Any]:
        return {"seconds": float(self.seconds)}


@dataclass(frozen=True)
class CutAfter(HttpFault):
    """SSE: forward ``events`` events, then abort the connection (no ``[DONE]``, no clean end)."""

    events: int
    kind: ClassVar[str] = "cut_after"

    def validate(self) -> None:
        super().validate()
        self._int("events", self.events, 0, 1_000_000)

    def params(self) -> dict[str, Any]:
        return {"events": self.events}


@dataclass(frozen=True)
class ErrorEvent(HttpFault):
    """SSE: after ``after`` events send ``event: error`` with ``type`` and ``message``, then end the
    stream cleanly (an overloaded provider that already answered 200)."""

    after: int
    type: str = "overloaded_error"
    message: str = ""
    kind: ClassVar[str] = "error_event"

    def validate(self) -> None:
        super().validate()
        self._int("after", self.after, 0, 1_000_000)
        self._text("type", self.type, empty=False)
        self._text("message", self.message)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"after": self.after, "type": self.type}
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class MalformedEvent(HttpFault):
    """SSE: event number ``at`` (from 0) is replaced by data that is not JSON; the rest is forwarded."""

    at: int
    kind: ClassVar[str] = "malformed_event"

    def validate(self) -> None:
        super().validate()
        self._int("at", self.at, 0, 1_000_000)

    def params(self) -> dict[str, Any]:
        return {"at": self.at}


@dataclass(frozen=True)
class Truncate(HttpFault):
    """JSON answers: send the first ``bytes`` bytes of the body, then abort (Content-Length kept)."""

    bytes: int
    kind: ClassVar[str] = "truncate"

    def validate(self) -> None:
        super().validate()
        self._int("bytes", self.bytes, 0, 2**31)

    def params(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


@dataclass(frozen=True)
class MalformedJson(HttpFault):
    """JSON answers: status and headers kept, the body replaced by JSON that never closes."""

    kind: ClassVar[str] = "malformed_json"


@dataclass(frozen=True)
class WrongContentType(HttpFault):
    """Answer 200 with an HTML error page of ``content_type`` instead of the upstream's answer (a
    load balancer's page where JSON was expected)."""

    content_type: str = "text/html; charset=utf-8"
    kind: ClassVar[str] = "wrong_content_type"

    def validate(self) -> None:
        super().validate()
        self._text("content_type", self.content_type, empty=False)
        self._require("\n" not in self.content_type and "\r" not in self.content_type, "content_type",
                      "must be a single header line")

    def params(self) -> dict[str, Any]:
        return {"content_type": self.content_type}


HTTP_FAULTS: tuple[type[HttpFault], ...] = (
    HttpError,
    RateLimit,
    Delay,
    FirstTokenDelay,
    TokenDelay,
    CutAfter,
    ErrorEvent,
    MalformedEvent,
    Truncate,
    MalformedJson,
    WrongContentType,
)


def resolve_route(topology: Topology, spec: FaultSpec) -> Edge:
    """The edge (its name is the route's) an HTTP fault targets; it must have an HTTP fault route."""
    edge = resolve_edge(topology, spec)
    if edge.http_proxy_port is None:
        raise FaultParameterError(
            spec.kind, "target",
            f"{spec.target!r}: edge {edge.name!r} has no HTTP fault route (give it an http_proxy_port in {topology.path})",
        )
    return edge
