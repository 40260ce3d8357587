"""Network fault specs: what Toxiproxy can do to the TCP traffic on one edge of the topology.

Each spec is a frozen dataclass that validates itself and says, in Toxiproxy's terms, what it asks
for; ``faults.network`` puts it in place and holds the live handle. Like ``faults.docker_specs``,
this module sends nothing, so the fault catalogue and the HTTP fault specs can list, parse and
resolve network faults without an injector.

A spec's ``target`` is a service (the one edge whose callee it is) or an edge name such as
``gateway-to-vector-db``; it is resolved against the topology and validated before anything is sent,
so a typo or a value that would crash Toxiproxy (a slicer with size_variation > average_size, a
bandwidth of 0) never reaches the server. Directions are seen from the caller: ``upstream`` is the
request, ``downstream`` the answer.

The ``timeout`` toxic family (Blackhole, TimeoutClose) defaults to BOTH directions: a toxic on the
downstream alone still lets the callee's FIN through, so a callee that closes after answering would
make the "blackhole" look like an empty reply instead of silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from core.errors import FaultParameterError
from core.topology import Edge, Topology

from .base import Direction, FaultSpec
from .toxiproxy import Stream

MAX_MS = 3_600_000  # an hour: a longer delay is almost certainly a unit mistake (seconds vs ms)


@dataclass(frozen=True)
class NetworkFault(FaultSpec):
    """A fault on the traffic of one proxied edge."""

    kind: ClassVar[str] = "network"

    def _int(self, parameter: str, value: object, low: int, high: int) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        self._require(ok, parameter, f"must be a whole number within {low}..{high}, got {value!r}")

    def _seconds(self, parameter: str, value: object, low: float, high: float) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
        self._require(ok, parameter, f"must be a number of seconds within {low:g}..{high:g}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ToxicFault(NetworkFault):
    """A fault made of Toxiproxy toxics of one type, one toxic per affected stream."""

    direction: Direction = Direction.DOWNSTREAM
    toxic_type: ClassVar[str] = ""

    def validate(self) -> None:
        super().validate()
        self._require(_direction(self.direction) is not None, "direction", "must be one of upstream, downstream, both")

    def attributes(self) -> dict[str, int]:
        """The toxic's attributes, in Toxiproxy's units."""
        return {}

    def toxicity(self) -> float:
        """The chance, rolled per connection and stream, that a connection is affected."""
        return 1.0

    def streams(self) -> tuple[Stream, ...]:
        direction = _direction(self.direction)
        if direction is Direction.UPSTREAM:
            return ("upstream",)
        if direction is Direction.DOWNSTREAM:
            return ("downstream",)
        return ("upstream", "downstream")


@dataclass(frozen=True)
class Latency(ToxicFault):
    """Delay every chunk by ``latency_ms`` ± ``jitter_ms`` (a delay below 0 is clipped to 0).
    The TCP handshake is not delayed; BOTH delays request and answer, so twice."""

    latency_ms: int
    jitter_ms: int = 0
    kind: ClassVar[str] = "latency"
    toxic_type: ClassVar[str] = "latency"

    def validate(self) -> None:
        super().validate()
        self._int("latency_ms", self.latency_ms, 0, MAX_MS)
        self._int("jitter_ms", self.jitter_ms, 0, MAX_MS)

    def attributes(self) -> dict[str, int]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


@dataclass(frozen=True)
class Bandwidth(ToxicFault):
    """Limit throughput to ``rate_kbps`` kilobytes (1000 bytes) per second, Toxiproxy's unit.
    A rate of 0 would stall or crash Toxiproxy, so it is refused: use Blackhole for "nothing"."""

    rate_kbps: int
    kind: ClassVar[str] = "bandwidth"
    toxic_type: ClassVar[str] = "bandwidth"

    def validate(self) -> None:
        super().validate()
        self._int("rate_kbps", self.rate_kbps, 1, 10_000_000)

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kbps}


@dataclass(frozen=True)
class Blackhole(ToxicFault):
    """Accept connections, then drop every byte and hold them open until reverted (a hung network).
    Reverting closes the held connections."""

    direction: Direction = field(default=Direction.BOTH, kw_only=True)
    kind: ClassVar[str] = "blackhole"
    toxic_type: ClassVar[str] = "timeout"

    def attributes(self) -> dict[str, int]:
        return {"timeout": 0}


@dataclass(frozen=True)
class TimeoutClose(ToxicFault):
    """Drop every byte and close each connection ``timeout_ms`` after its data started flowing."""

    timeout_ms: int
    direction: Direction = field(default=Direction.BOTH, kw_only=True)
    kind: ClassVar[str] = "timeout_close"
    toxic_type: ClassVar[str] = "timeout"

    def validate(self) -> None:
        super().validate()
        self._int("timeout_ms", self.timeout_ms, 1, MAX_MS)  # 0 would be a Blackhole

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True)
class ResetPeer(ToxicFault):
    """Reset (TCP RST) a connection ``timeout_ms`` after its first data, with ``probability`` per
    connection and stream. With keep-alive pools that is not a per-request probability."""

    probability: float = 1.0
    timeout_ms: int = 0
    kind: ClassVar[str] = "reset_peer"
    toxic_type: ClassVar[str] = "reset_peer"

    def validate(self) -> None:
        super().validate()
        p = self.probability
        ok = isinstance(p, int | float) and not isinstance(p, bool) and 0.0 <= p <= 1.0
        self._require(ok, "probability", f"must be within 0..1, got {p!r}")
        self._int("timeout_ms", self.timeout_ms, 0, MAX_MS)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}

    def toxicity(self) -> float:
        return float(self.probability)


@dataclass(frozen=True)
class SlowClose(ToxicFault):
    """Delay the close of each connection by ``delay_ms`` after the other side closed it."""

    delay_ms: int
    kind: ClassVar[str] = "slow_close"
    toxic_type: ClassVar[str] = "slow_close"

    def validate(self) -> None:
        super().validate()
        self._int("delay_ms", self.delay_ms, 0, MAX_MS)

    def attributes(self) -> dict[str, int]:
        return {"delay": self.delay_ms}


@dataclass(frozen=True)
class Slicer(ToxicFault):
    """Cut data into chunks of ``average_size`` ± ``size_variation`` bytes, ``delay_us`` microseconds
    apart. Toxiproxy recurses forever on ``average_size`` 0 and slices out of bounds when
    ``size_variation`` exceeds ``average_size``: both kill the server, so both are refused."""

    average_size: int
    size_variation: int = 0
    delay_us: int = 0
    kind: ClassVar[str] = "slicer"
    toxic_type: ClassVar[str] = "slicer"

    def validate(self) -> None:
        super().validate()
        self._int("average_size", self.average_size, 1, 1 << 30)
        self._int("size_variation", self.size_variation, 0, 1 << 30)
        self._require(
            self.size_variation <= self.average_size,
            "size_variation",
            f"must not exceed average_size ({self.average_size}), got {self.size_variation} (it would crash Toxiproxy)",
        )
        self._int("delay_us", self.delay_us, 0, MAX_MS * 1000)

    def attributes(self) -> dict[str, int]:
        return {"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us}


@dataclass(frozen=True)
class LimitData(ToxicFault):
    """Close each connection once ``bytes`` bytes have passed (0: at the first byte)."""

    bytes: int
    kind: ClassVar[str] = "limit_data"
    toxic_type: ClassVar[str] = "limit_data"

    def validate(self) -> None:
        super().validate()
        self._int("bytes", self.bytes, 0, 1 << 62)

    def attributes(self) -> dict[str, int]:
        return {"bytes": self.bytes}


@dataclass(frozen=True)
class OneWayPartition(ToxicFault):
    """Drop the traffic of one direction, holding connections open: ``upstream`` loses requests,
    ``downstream`` loses answers (a callee's close still gets through, as in a half-open link)."""

    direction: Direction = field(kw_only=True)
    kind: ClassVar[str] = "one_way_partition"
    toxic_type: ClassVar[str] = "timeout"

    def validate(self) -> None:
        super().validate()
        self._require(
            _direction(self.direction) is not Direction.BOTH,
            "direction",
            "must be upstream or downstream (both ways is a Partition or a Blackhole)",
        )

    def attributes(self) -> dict[str, int]:
        return {"timeout": 0}


@dataclass(frozen=True)
class Partition(NetworkFault):
    """The callee is unreachable: new connections are refused and open ones closed."""

    kind: ClassVar[str] = "partition"


@dataclass(frozen=True)
class Flap(NetworkFault):
    """A link that goes down for ``down_s`` and up for ``up_s``, over and over, for ``duration_s``
    (starting down). It ends up, whether the duration ran out or the fault was reverted."""

    down_s: float
    up_s: float
    duration_s: float
    kind: ClassVar[str] = "flap"

    def validate(self) -> None:
        super().validate()
        self._seconds("down_s", self.down_s, 0.01, 3600)
        self._seconds("up_s", self.up_s, 0.01, 3600)
        self._seconds("duration_s", self.duration_s, 0.01, 24 * 3600)


NETWORK_FAULTS: tuple[type[NetworkFault], ...] = (
    Latency,
    Bandwidth,
    Blackhole,
    TimeoutClose,
    ResetPeer,
    SlowClose,
    Slicer,
    LimitData,
    OneWayPartition,
    Partition,
    Flap,
)


def _direction(value: object) -> Direction | None:
    """The Direction a field holds; specs built from text may carry the plain string."""
    try:
        return Direction(str(value))
    except ValueError:
        return None


# -- resolving a target --------------------------------------------------------------------------


def resolve_edge(topology: Topology, spec: FaultSpec) -> Edge:
    """The edge a spec's target means: an edge by name, or the one edge whose callee is that service."""
    edges = {edge.name: edge for edge in topology.edges}
    if spec.target in edges:
        return edges[spec.target]
    into = [edge for edge in topology.edges if edge.target == spec.target]
    if len(into) == 1:
        return into[0]
    if into:
        names = ", ".join(sorted(e.name for e in into))
        raise FaultParameterError(spec.kind, "target", f"{spec.target!r} is reached through several edges ({names}): name one")
    known = ", ".join(sorted(edges)) or "none"
    raise FaultParameterError(
        spec.kind, "target", f"{spec.target!r} is neither a proxied edge nor a service behind one (known edges: {known})"
    )
