"""Deadlines, full-jitter backoff and a retry budget: retries that help users without burying a server.

The textbook "three retries of a 3 s timeout plus backoff" keeps a user waiting over 10 s and multiplies
the load on a dependency that is already struggling. Here every request carries one ``Deadline`` that
each attempt's timeout is cut to, backoff uses full jitter (the sleep is uniform in
``[0, min(cap, base * 2**attempt)]``), and a ``RetryBudget`` lets retries add at most a fixed share of
the request rate (about 10%) on top of a small floor, so a flapping dependency sees ~1.1x its load, not 3x.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class Deadline:
    """A point in monotonic time after which the request's answer is no longer worth waiting for."""

    def __init__(self, budget_s: float, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._expires_at = clock() + max(0.0, budget_s)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def child(self, budget_s: float) -> Deadline:
        """A deadline for one stage: ``budget_s`` from now, but never later than this one."""
        return Deadline(min(budget_s, self.remaining()), self._clock)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter."""

    base_s: float = 0.05
    cap_s: float = 1.0
    jitter: bool = True  # False only in the retry-storm variant: every client retries in lockstep

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the sleep before retry number ``attempt`` (0 = first retry)."""
        return min(self.cap_s, self.base_s * (2.0**attempt))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The sleep before retry number ``attempt``: uniform in ``[0, ceiling(attempt)]``."""
        return rng.uniform(0.0, self.ceiling(attempt)) if self.jitter else self.ceiling(attempt)


class RetryBudget:
    """Allows a retry while retries in the last ``window_s`` stay under ``floor + ratio * requests``.

    Modelled on Finagle's retry budget: each request deposits ``ratio`` of a retry, each retry withdraws
    one, and ``min_per_s`` keeps retries possible when traffic is low. Counts live in one-second buckets.
    """

    def __init__(
        self,
        ratio: float = 0.1,
        min_per_s: float = 1.0,
        window_s: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"retry budget ratio must be within 0..1, got {ratio}")
        if window_s <= 0:
            raise ValueError(f"retry budget window must be positive, got {window_s}")
        self._ratio = ratio
        self._floor = min_per_s * window_s
        self._window_s = window_s
        self._clock = clock
        # (second, requests, retries), oldest first
        self._buckets: deque[list[int]] = deque()

    def _bucket(self) -> list[int]:
        second = int(self._clock())
        horizon = second - int(self._window_s)
        while self._buckets and self._buckets[0][0] <= horizon:
            self._buckets.popleft()
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        return self._buckets[-1]

    def record_request(self) -> None:
        """Count one original (non-retry) request."""
        self._bucket()[1] += 1

    def try_acquire(self) -> bool:
        """Take one retry from the budget; False when the budget is spent."""
        bucket = self._bucket()
        requests = sum(b[1] for b in self._buckets)
        retries = sum(b[2] for b in self._buckets)
        if retries + 1 > self._floor + self._ratio * requests:
            return False
        bucket[2] += 1
        return True
