"""The observer: samples the system's /status at 10 Hz or faster and keeps the mode/breaker timeline.

A sampler can miss a state that lasts less than its period (a half-open breaker that closes after two
quick trial calls). The reference gateway also lists each breaker's recent ``transitions`` in /status;
when a system provides them, the observer merges them in, so short states are kept with their real
time. Systems that do not are still sampled; their short states may then be missed (and the report
says the timeline is sampled).

Runs in a daemon thread with one keep-alive HTTP client; each change of mode or breaker state is also
recorded in the journal, so reports and the live view hear about it as it happens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from core.journal import Journal

from .records import StatusSample


def _parse_wall(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


class Observer:
    """Polls ``status_url`` every ``interval_s`` until stopped."""

    def __init__(
        self,
        status_url: str,
        journal: Journal,
        *,
        interval_s: float = 0.1,
        timeout_s: float = 0.5,
        mode_field: str = "mode",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = status_url
        self._journal = journal
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._mode_field = mode_field
        self._clock = clock
        self._samples: list[StatusSample] = []
        self._transitions: dict[tuple[str, str, str], tuple[float, str]] = {}  # (dep, to, at) -> (t, from)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: StatusSample | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="status-observer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Observer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading -----------------------------------------------------------------------------------

    def samples(self, since: float | None = None) -> list[StatusSample]:
        with self._lock:
            out = list(self._samples)
        return out if since is None else [s for s in out if s.t >= since]

    def transitions(self, dependency: str, since: float | None = None) -> list[tuple[float, str, str]]:
        """Reported breaker transitions of ``dependency`` as (t, from, to), oldest first."""
        with self._lock:
            items = [(t, frm, key[1]) for key, (t, frm) in self._transitions.items() if key[0] == dependency]
        items.sort()
        return items if since is None else [i for i in items if i[0] >= since]

    def latest(self) -> StatusSample | None:
        with self._lock:
            return self._last

    def sample_now(self) -> StatusSample:
        """Take one sample synchronously (used before the thread runs, and by tests)."""
        with httpx.Client(timeout=self._timeout_s, trust_env=False) as client:
            return self._sample(client)

    # -- internals ---------------------------------------------------------------------------------

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout_s, trust_env=False) as client:
            next_at = self._clock()
            while not self._stop.is_set():
                self._sample(client)
                next_at += self._interval_s
                delay = next_at - self._clock()
                if delay < 0:  # a slow answer: do not try to catch up with a burst
                    next_at = self._clock()
                    delay = 0
                self._stop.wait(delay)

    def _sample(self, client: httpx.Client) -> StatusSample:
        t, wall = self._clock(), time.time()
        try:
            body = client.get(self._url).json()
            sample = self._from_body(t, wall, body)
        except (httpx.HTTPError, ValueError) as exc:
            sample = StatusSample(t, wall, None, {}, type(exc).__name__)
        self._append(sample)
        return sample

    def _from_body(self, t: float, wall: float, body: Any) -> StatusSample:
        if not isinstance(body, dict):
            return StatusSample(t, wall, None, {}, "BadStatusBody")
        mode = body.get(self._mode_field)
        breakers: dict[str, str] = {}
        deps = body.get("dependencies")
        if isinstance(deps, dict):
            for name, dep in deps.items():
                if not isinstance(dep, dict):
                    continue
                if isinstance(dep.get("breaker"), str):
                    breakers[name] = dep["breaker"]
                self._merge_transitions(name, dep.get("transitions"), t, wall)
        return StatusSample(t, wall, mode if isinstance(mode, str) else None, breakers)

    def _merge_transitions(self, dependency: str, items: Any, t: float, wall: float) -> None:
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, dict):
                continue
            at = item.get("at")
            at_wall = _parse_wall(at) if isinstance(at, str) else None
            to, frm = item.get("to"), item.get("from")
            if at_wall is None or not isinstance(to, str) or not isinstance(frm, str):
                continue
            key = (dependency, to, str(at))
            with self._lock:
                if key in self._transitions:
                    continue
                # Map the system's wall time onto our monotonic clock via this sample's pair of clocks.
                self._transitions[key] = (t - (wall - at_wall), frm)
            self._journal.record("breaker_transition", dependency=dependency, from_state=frm, to_state=to,
                                 t=round(t - (wall - at_wall), 6))

    def _append(self, sample: StatusSample) -> None:
        with self._lock:
            previous = self._last
            self._samples.append(sample)
            self._last = sample
        if previous is None or previous.mode != sample.mode:
            self._journal.record("mode_observed", mode=sample.mode, t=round(sample.t, 6), error=sample.error)
        if previous is not None:
            for dep, state in sample.breakers.items():
                if previous.breakers.get(dep) != state:
                    self._journal.record("breaker_observed", dependency=dep, state=state, t=round(sample.t, 6))
