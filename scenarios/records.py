"""What a run observes, as plain frozen records on one clock.

All three streams carry ``t``: seconds on the host's monotonic clock (``time.monotonic()``, which is
the same CLOCK_MONOTONIC in every process of a Linux host, so Locust's processes and the engine agree),
plus wall time where people need to line things up with logs.

    RequestRecord   one /chat request made by the load generator
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
    name: str = "chat"  # request kind, e.g. "chat" or "chat-repeat"
    worker: str = ""  # which load process sent it

    @property
    def ok(self) -> bool:
        """A usable answer: HTTP 200 (degraded answers count: degrading *is* the answer)."""
        return self.status == 200

    @property
    def server_error(self) -> bool:
        return self.status >= 500

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 6), "wall": round(self.wall, 6), "latency_s": round(self.latency_s, 6),
            "status": self.status, "mode": self.mode, "notice": self.notice, "cached": self.cached,
            "error": self.error, "name": self.name, "worker": self.worker,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(
            t=float(data["t"]), wall=float(data["wall"]), latency_s=float(data["latency_s"]),
            status=int(data["status"]), mode=data.get("mode"), notice=bool(data.get("notice", False)),
            cached=bool(data.get("cached", False)), error=data.get("error"), name=str(data.get("name", "chat")),
            worker=str(data.get("worker", "")),
        )


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
