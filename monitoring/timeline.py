"""The alert timeline: when each alert went pending, fired and resolved, on the harness's monotonic clock.

A background thread polls ``GET /api/v1/alerts`` every ``poll_s`` (0.2 s by default) and records each
change of an alert instance (an alert name plus its label set) with the monotonic time it was seen, so
alert times line up with fault windows, the mode timeline and the load records of the same scenario.
A change is seen at most one poll (plus one API call) after Prometheus made it; Prometheus itself
decides only at its evaluation ticks, so the poll adds little to the delay the rules already have.

A poll that fails is not a quiet system: ``check()`` raises ``PrometheusError`` once no poll succeeded
for ``max_silence_s``, and the steps call it before deciding, so a blind spot makes the verdict an
error, never a pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import HarnessError, PrometheusError
from core.journal import Journal

from .client import Alert, PrometheusClient

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertChange:
    t: float  # monotonic, when the harness saw it
    name: str
    labels: LabelKey
    state: str  # pending | firing | inactive
    active_at: float | None = None  # Unix seconds, Prometheus's own start of the pending phase


@dataclass
class AlertInterval:
    """One alert instance's life: pending, then maybe firing, then maybe resolved (monotonic times)."""

    name: str
    labels: dict[str, str]
    pending_at: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None

    def to_json(self, origin: float) -> dict[str, Any]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - origin, 3)

        return {"name": self.name, "labels": self.labels, "pending_at": rel(self.pending_at),
                "fired_at": rel(self.fired_at), "resolved_at": rel(self.resolved_at),
                "severity": self.labels.get("severity")}


class AlertTimeline:
    def __init__(self, client: PrometheusClient, journal: Journal | None = None, *, poll_s: float = 0.2,
                 max_silence_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._journal = journal
        self._poll_s = poll_s
        self._max_silence_s = max_silence_s
        self._clock = clock
        self._changes: list[AlertChange] = []
        self._state: dict[LabelKey, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok: float | None = None
        self._last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._last_ok = self._clock()  # the grace of max_silence_s starts now
        self._thread = threading.Thread(target=self._run, name="alert-timeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except HarnessError:
                pass  # recorded in _last_error; check() turns a long silence into an error
            self._stop.wait(self._poll_s)

    # -- polling -----------------------------------------------------------------------------------

    def poll_once(self) -> list[AlertChange]:
        """Read the alerts once and record what changed; raises PrometheusError when the read fails."""
        try:
            alerts = self._client.alerts()
        except PrometheusError as exc:
            with self._lock:
                self._last_error = str(exc)
            raise
        now = self._clock()
        return self.observe(alerts, now)

    def observe(self, alerts: list[Alert], now: float) -> list[AlertChange]:
        """Record the changes between the last known states and ``alerts`` seen at ``now``."""
        seen = {a.key: a for a in alerts}
        changes: list[AlertChange] = []
        with self._lock:
            self._last_ok, self._last_error = now, None
            for key, alert in seen.items():
                if self._state.get(key) != alert.state:
                    changes.append(AlertChange(now, alert.name, key, alert.state, alert.active_at))
                    self._state[key] = alert.state
            for key in [k for k in self._state if k not in seen]:
                changes.append(AlertChange(now, dict(key).get("alertname", "?"), key, "inactive"))
                del self._state[key]
            self._changes.extend(changes)
        if self._journal is not None:
            for change in changes:
                self._journal.record("alert_changed", alert=change.name, state=change.state,
                                     labels=dict(change.labels))
        return changes

    def check(self) -> None:
        """Raise PrometheusError when the timeline has been blind for longer than ``max_silence_s``."""
        with self._lock:
            last_ok, error = self._last_ok, self._last_error
        if last_ok is not None and error is not None and self._clock() - last_ok > self._max_silence_s:
            raise PrometheusError(f"the alert timeline could not read Prometheus for "
                                  f"{self._clock() - last_ok:.1f}s, so alerts were not measured: {error}")

    # -- reading -----------------------------------------------------------------------------------

    def changes(self, since: float | None = None) -> list[AlertChange]:
        with self._lock:
            out = list(self._changes)
        return out if since is None else [c for c in out if c.t >= since]

    def active(self) -> dict[LabelKey, str]:
        """Alert instances pending or firing as of the last poll."""
        with self._lock:
            return dict(self._state)

    def intervals(self, start: float | None = None, end: float | None = None) -> list[AlertInterval]:
        """Every alert instance's intervals overlapping [start, end], oldest first."""
        return build_intervals(self.changes(), start, end)


def build_intervals(changes: list[AlertChange], start: float | None = None,
                    end: float | None = None) -> list[AlertInterval]:
    """Pair pending -> firing -> inactive changes per alert instance into intervals; keep the ones that
    overlap [start, end] (an alert still active at ``end`` has no ``resolved_at``)."""
    open_: dict[LabelKey, AlertInterval] = {}
    done: list[AlertInterval] = []
    for change in sorted(changes, key=lambda c: c.t):
        if end is not None and change.t > end:
            break
        current = open_.get(change.labels)
        if change.state == "inactive":
            if current is not None:
                current.resolved_at = change.t
                done.append(open_.pop(change.labels))
            continue
        if current is None:
            current = open_[change.labels] = AlertInterval(change.name, dict(change.labels))
        if change.state == "pending" and current.pending_at is None:
            current.pending_at = change.t
        if change.state == "firing" and current.fired_at is None:
            current.fired_at = change.t
            if current.pending_at is None:  # pending for less than a poll (or ``for: 0``)
                current.pending_at = change.t
    everything = done + list(open_.values())
    everything.sort(key=lambda i: i.pending_at or 0.0)

    def overlaps(i: AlertInterval) -> bool:
        first = i.pending_at if i.pending_at is not None else 0.0
        return (end is None or first <= end) and (start is None or i.resolved_at is None or i.resolved_at >= start)

    return [i for i in everything if overlaps(i)]


@dataclass(frozen=True)
class AlertSummary:
    """A scenario's alerting figures: fault -> first firing, heal -> last resolution."""

    time_to_alert_s: float | None = None
    time_to_resolve_s: float | None = None
    fired: tuple[str, ...] = field(default_factory=tuple)


def summarize(intervals: list[AlertInterval], fault: float | None, recovery: float | None) -> AlertSummary:
    """From the first fault to the first alert that fired after it; from the heal to the moment the
    last of those alerts resolved (None when nothing fired, or something still fires)."""
    fired = [i for i in intervals if i.fired_at is not None and (fault is None or i.fired_at >= fault)]
    names = tuple(sorted({i.name for i in fired}))
    tta = min(i.fired_at for i in fired if i.fired_at is not None) - fault if fired and fault is not None else None
    ttr = None
    if recovery is not None and fired and all(i.resolved_at is not None for i in fired):
        last = max(i.resolved_at for i in fired if i.resolved_at is not None)
        ttr = max(0.0, last - recovery)
    return AlertSummary(tta, ttr, names)
