"""The system under test's HTTP contract as one typed client: the only code of ours that speaks it.

    SystemClient ── httpx.Client (the entry service's base URL, proxies from the environment ignored)
        status() / poll()  GET {mode.status_path}   -> SystemStatus (mode, breakers, reported transitions)
        probe(kind)        GET {probes.<kind>}       -> ProbeResult (never raises: no answer is a failed probe)
        chat(message)      POST /chat                -> ChatAnswer (any HTTP status; the body when it is JSON)
        metrics()          GET /metrics              -> the Prometheus text
             │
             └─ _get()/_post(): the one boundary. Every httpx error becomes ``SystemUnreachable`` (and a
                /metrics read that fails becomes ``MeasurementError``), so nothing from httpx escapes and
                each caller keeps its own policy: the observer turns the error into a sample with an
                error, a step that must ask a question lets it fail the scenario.

The contract (docs/topology.md): a status endpoint whose JSON holds the mode in a field and, for
breaker assertions, ``dependencies.<name>.breaker`` plus optional ``transitions`` (``from``, ``to``,
``at`` as ISO 8601); probes that answer 2xx when passing; ``/metrics`` in Prometheus text. The status
code of ``/status`` is not judged: a gateway that answers 503 with its mode in the body still says
which mode it is in. Timeouts come from ``HarnessSettings`` so tests can shrink them; ``transport``
is the test seam (``httpx.MockTransport``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import httpx

from core.errors import MeasurementError, SystemUnreachable
from core.settings import HarnessSettings
from core.topology import ModeSource, Probes, Topology

class ProbeKind(StrEnum):
    LIVE = "live"
    READY = "ready"
    STARTUP = "startup"


@dataclass(frozen=True)
class SystemTimeouts:
    """Seconds each kind of call may take; ``poll_s`` bounds one sample of the observer."""

    status_s: float = 2.0
    poll_s: float = 0.5
    chat_s: float = 40.0
    metrics_s: float = 2.0
    probe_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: HarnessSettings) -> SystemTimeouts:
        return cls(status_s=settings.status_timeout_s, poll_s=settings.status_poll_timeout_s,
                   chat_s=settings.chat_timeout_s, metrics_s=settings.metrics_timeout_s,
                   probe_s=settings.probe_timeout_s)


@dataclass(frozen=True)
class BreakerTransition:
    """One breaker change the system reported: ``at`` as it sent it, ``wall`` as a Unix time."""

    dependency: str
    from_state: str
    to_state: str
    at: str
    wall: float


@dataclass(frozen=True)
class SystemStatus:
    """What ``/status`` says: the mode (None when the field is missing or not text) and each breaker."""

    mode: str | None
    breakers: Mapping[str, str] = field(default_factory=dict)
    transitions: tuple[BreakerTransition, ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """One probe: ``status`` is None when no answer came (``error`` then names why)."""

    kind: ProbeKind
    url: str
    status: int | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class ChatAnswer:
    """One ``/chat`` answer: its HTTP status and its JSON object (empty when the body is not one)."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str | None:
        mode = self.body.get("mode")
        return mode if isinstance(mode, str) else None


class SystemClient:
    """The entry service of one system under test, over its HTTP contract."""

    def __init__(
        self,
        base_url: str,
        *,
        mode: ModeSource | None = None,
        probes: Probes | None = None,
        timeouts: SystemTimeouts | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.mode = mode or ModeSource()
        self.probes = probes or Probes()
        self.timeouts = timeouts or SystemTimeouts()
        # trust_env=False: an HTTP(S)_PROXY of the user's shell must not sit between us and loopback.
        self._http = httpx.Client(base_url=self.base_url, trust_env=False, transport=transport)

    @classmethod
    def for_entry(cls, topology: Topology, settings: HarnessSettings,
                  transport: httpx.BaseTransport | None = None) -> SystemClient:
        """The client of ``topology``'s entry service (ports as the topology has them, offset applied)."""
        entry = topology.service(topology.entry)
        return cls(f"http://{topology.host}:{entry.port}", mode=topology.mode, probes=entry.probes,
                   timeouts=SystemTimeouts.from_settings(settings), transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def status_url(self) -> str:
        return self.base_url + self.mode.status_path

    @property
    def metrics_url(self) -> str:
        return self.base_url + "/metrics"

    # -- the contract ------------------------------------------------------------------------------

    def status(self) -> SystemStatus:
        """``/status`` read once; ``SystemUnreachable`` when there is no answer or no JSON object."""
        return self._status(self.timeouts.status_s)

    def poll(self) -> SystemStatus:
        """``/status`` within the observer's shorter bound (``timeouts.poll_s``)."""
        return self._status(self.timeouts.poll_s)

    def probe(self, kind: ProbeKind | str) -> ProbeResult:
        """The ``kind`` probe's answer; a probe that gets none has failed, it does not raise."""
        kind = ProbeKind(kind)
        path: str = getattr(self.probes, kind.value)
        try:
            response = self._get(path, self.timeouts.probe_s)
        except SystemUnreachable as exc:
            return ProbeResult(kind, self.base_url + path, None, exc.reason)
        return ProbeResult(kind, self.base_url + path, response.status_code)

    def chat(self, message: str, user_id: str = "harness", headers: Mapping[str, str] | None = None) -> ChatAnswer:
        """``POST /chat`` with ``message``: whatever status comes back; ``SystemUnreachable`` when none does."""
        url = self.base_url + "/chat"
        with _translated(url):
            response = self._http.post("/chat", json={"message": message, "user_id": user_id},
                                       headers=dict(headers or {}), timeout=self.timeouts.chat_s)
        try:
            body = response.json()
        except ValueError:
            body = None
        return ChatAnswer(response.status_code, body if isinstance(body, dict) else {})

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``; ``MeasurementError`` when it cannot be read.

        An empty answer would be worse than none: "retries since the fault" would silently become
        "retries since the process started", or a difference against nothing."""
        url = self.metrics_url
        try:
            response = self._get("/metrics", self.timeouts.metrics_s)
        except SystemUnreachable as exc:
            raise MeasurementError(f"cannot read {url}: {exc.reason}: {exc.detail}") from None
        if response.status_code != 200:
            raise MeasurementError(f"cannot read {url}: HTTP {response.status_code}")
        return response.text

    # -- internals ---------------------------------------------------------------------------------

    def _status(self, timeout_s: float) -> SystemStatus:
        url = self.status_url
        response = self._get(self.mode.status_path, timeout_s)
        try:
            body = response.json()
        except ValueError as exc:
            raise SystemUnreachable(url, type(exc).__name__, str(exc)) from None
        if not isinstance(body, dict):
            raise SystemUnreachable(url, "BadStatusBody", f"not a JSON object: {type(body).__name__}")
        return _parse_status(body, self.mode.response_field)

    def _get(self, path: str, timeout_s: float) -> httpx.Response:
        with _translated(self.base_url + path):
            return self._http.get(path, timeout=timeout_s)


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """httpx's errors as ``SystemUnreachable`` naming the URL and the error's type (the cause is kept)."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SystemUnreachable(url, type(exc).__name__, str(exc)) from exc


def _parse_status(body: Mapping[str, Any], mode_field: str) -> SystemStatus:
    """The mode, breakers and well-formed transitions of a status body; anything malformed is skipped."""
    mode = body.get(mode_field)
    breakers: dict[str, str] = {}
    transitions: list[BreakerTransition] = []
    deps = body.get("dependencies")
    if isinstance(deps, dict):
        for name, dep in deps.items():
            if not isinstance(dep, dict):
                continue
            if isinstance(dep.get("breaker"), str):
                breakers[name] = dep["breaker"]
            transitions += _transitions(str(name), dep.get("transitions"))
    return SystemStatus(mode if isinstance(mode, str) else None, breakers, tuple(transitions))


def _transitions(dependency: str, items: Any) -> list[BreakerTransition]:
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        at, to, frm = item.get("at"), item.get("to"), item.get("from")
        wall = _parse_wall(at) if isinstance(at, str) else None
        if wall is None or not isinstance(to, str) or not isinstance(frm, str):
            continue
        out.append(BreakerTransition(dependency, frm, to, str(at), wall))
    return out


def _parse_wall(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None
