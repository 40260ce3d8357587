"""What a run observes, as plain frozen records on one clock.

All three streams carry ``t``: seconds on the host's monotonic clock (``time.monotonic()``, which is
the same CLOCK_MONOTONIC in every process of a Linux host, so Locust's processes and the engine agree),
plus wall time where people need to line things up with logs.

    RequestRecord   one /chat (or /chat/stream) request made by the load generator
    StatusSample    one poll of the system's /status (mode and each breaker's state)
    FaultWindow     when a fault was in place (end is None while it still is)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    t: float  # monotonic time the request started
    wall: float  # time.time() when it started
    latency_s: float
    status: int  # HTTP status; 0 when no response (connection error, timeout)
    mode: str | None = None  # the answer's mode, when the body had one
    notice: bool = False  # the answer carried a non-empty notice
    cached: bool = False
    error: str | None = None  # exception name when there was no response
    name: str = "chat"  # request kind, e.g. "chat", "chat-repeat", "chat-stream"
    worker: str = ""  # which load process sent it
    user: str = ""  # which simulated user sent it (its user_id): a user silent for long is stuck in a request
    # Streamed answers only (POST /chat/stream); None for /chat requests. ``latency_s`` of a stream runs
    # until its ``done`` event or the end of the connection.
    ttft_ms: float | None = None  # from sending the request to the first ``token`` event
    tokens: int | None = None  # token events received
    tokens_per_s: float | None = None  # (tokens - 1) / (last token - first token): the rate once it flowed
    outcome: str | None = None  # complete | partial | error (see OUTCOMES)

    @property
    def streamed(self) -> bool:
        return self.outcome is not None

    @property
    def ok(self) -> bool:
        """A usable answer: HTTP 200 (degraded answers count: degrading *is* the answer).

        A streamed answer also needs an ending the system chose: ``complete``, or ``partial`` (the
        system said, in its ``done`` event, that the answer was interrupted, like a degraded answer
        says what it lacks). A stream cut, stalled or ended by an ``error`` event is not usable.
        """
        return self.status == 200 and self.outcome != STREAM_ERROR

    @property
    def server_error(self) -> bool:
        """A 5xx, or a stream that answered 200 and then reported an error in-band (``event: error``)."""
        return self.status >= 500 or self.error == ERROR_EVENT

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "t": round(self.t, 6), "wall": round(self.wall, 6), "latency_s": round(self.latency_s, 6),
            "status": self.status, "mode": self.mode, "notice": self.notice, "cached": self.cached,
            "error": self.error, "name": self.name, "worker": self.worker,
        }
        if self.user:
            data["user"] = self.user
        if self.streamed:  # /chat records keep their old shape
            data.update(ttft_ms=None if self.ttft_ms is None else round(self.ttft_ms, 3), tokens=self.tokens,
                        tokens_per_s=None if self.tokens_per_s is None else round(self.tokens_per_s, 3),
                        outcome=self.outcome)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        outcome = data.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown stream outcome {outcome!r}")
        return cls(
            t=float(data["t"]), wall=float(data["wall"]), latency_s=float(data["latency_s"]),
            status=int(data["status"]), mode=data.get("mode"), notice=bool(data.get("notice", False)),
            cached=bool(data.get("cached", False)), error=data.get("error"), name=str(data.get("name", "chat")),
            worker=str(data.get("worker", "")), user=str(data.get("user", "")),
            ttft_ms=_float(data.get("ttft_ms")), tokens=None if data.get("tokens") is None else int(data["tokens"]),
            tokens_per_s=_float(data.get("tokens_per_s")), outcome=outcome,
        )


COMPLETE, PARTIAL, STREAM_ERROR = "complete", "partial", "error"
OUTCOMES = (COMPLETE, PARTIAL, STREAM_ERROR)
# Error names a streamed answer can carry besides the exception names of /chat records.
ERROR_EVENT = "ErrorEvent"  # the stream sent ``event: error``
STREAM_CUT = "StreamCut"  # the connection ended (or broke) before the ``done`` event
MALFORMED_EVENT = "MalformedEvent"  # an event whose data was not the JSON the contract promises
NOT_A_STREAM = "NotAStream"  # a 200 answer that was not ``text/event-stream``


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class StatusSample:
    t: float
    wall: float
    mode: str | None  # None when /status could not be read (the entry service is down)
    breakers: dict[str, str] = field(default_factory=dict)  # dependency -> closed/open/half-open
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "wall": round(self.wall, 6), "mode": self.mode,
                "breakers": self.breakers, "error": self.error}


@dataclass(frozen=True)
class FaultWindow:
    label: str
    kind: str
    target: str
    start: float
    end: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "target": self.target, "start": round(self.start, 6),
                "end": None if self.end is None else round(self.end, 6)}
