"""The observer: samples the system's /status at 10 Hz or faster and keeps the mode/breaker timeline.

A sampler can miss a state that lasts less than its period (a half-open breaker that closes after two
quick trial calls). The reference gateway also lists each breaker's recent ``transitions`` in /status;
when a system provides them, the observer merges them in, so short states are kept with their real
time. Systems that do not are still sampled; their short states may then be missed (and the report
says the timeline is sampled).

Runs in a daemon thread over the run's ``SystemClient`` (one keep-alive connection); each change of
mode or breaker state is also recorded in the journal, so reports and the live view hear about it as it
happens. An unreachable or unreadable /status is a sample with an error, never an exception.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from core.errors import SystemUnreachable
from core.journal import Journal
from system.client import BreakerTransition, SystemClient

from .records import StatusSample


class Observer:
    """Polls the system's /status through ``client`` every ``interval_s`` until stopped.

    The client is the caller's: stopping the observer does not close it."""

    def __init__(
        self,
        client: SystemClient,
        journal: Journal,
        *,
        interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._journal = journal
        self._interval_s = interval_s
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
        return self._sample()

    # -- internals ---------------------------------------------------------------------------------

    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            self._sample()
            next_at += self._interval_s
            delay = next_at - self._clock()
            if delay < 0:  # a slow answer: do not try to catch up with a burst
                next_at = self._clock()
                delay = 0
            self._stop.wait(delay)

    def _sample(self) -> StatusSample:
        t, wall = self._clock(), time.time()
        try:
            status = self._client.poll()
        except SystemUnreachable as exc:
            sample = StatusSample(t, wall, None, {}, exc.reason)
        else:
            self._merge_transitions(status.transitions, t, wall)
            sample = StatusSample(t, wall, status.mode, dict(status.breakers))
        self._append(sample)
        return sample

    def _merge_transitions(self, items: Sequence[BreakerTransition], t: float, wall: float) -> None:
        for item in items:
            key = (item.dependency, item.to_state, item.at)
            with self._lock:
                if key in self._transitions:
                    continue
                # Map the system's wall time onto our monotonic clock via this sample's pair of clocks.
                self._transitions[key] = (t - (wall - item.wall), item.from_state)
            self._journal.record("breaker_transition", dependency=item.dependency, from_state=item.from_state,
                                 to_state=item.to_state, t=round(t - (wall - item.wall), 6))

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
