"""A failure-rate circuit breaker for asyncio, built on pybreaker's state machine.

pybreaker alone does not fit an async gateway (see the design page's flaws 1, 2, 5, 6): its decorator on
an ``async def`` records success when the coroutine is *created*, ``call()`` holds a lock for the whole
call (serialising concurrent requests), it only counts *consecutive* failures, and excluded errors count
as successes. So this class keeps pybreaker for what it does well (the closed/open/half-open state, its
storage and listeners) and drives it from outside:

    acquire() ──> Permit ──> the awaited call ──> record_success / record_failure / release
       │
       └─ CircuitOpenError when open, or when half-open trials are all taken

* Opens when, in a sliding ``window_s``, at least ``min_calls`` calls were made and the failure share
  reached ``failure_rate_threshold`` -- or on ``consecutive_failures`` in a row (a dead dependency
  should not wait for its failures to outweigh the window's earlier successes: see ``_open_reason``).
* Moves to half-open ``reset_timeout_s`` after opening (monotonic clock), checked whenever the state is
  read, so ``/status`` polling makes the transition visible even without traffic.
* Half-open admits at most ``half_open_max_calls`` concurrent trials; ``success_threshold`` successful
  trials close it, one failed trial reopens it.
* Every permit carries the generation of the state it was issued in, so a slow call that started before
  a transition cannot close or reopen the breaker afterwards.

It holds no lock across an ``await``: under asyncio every method runs to completion on the event loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pybreaker

from .errors import CircuitOpenError

Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_rate_threshold: float = 0.5
    window_s: float = 10.0
    min_calls: int = 10
    consecutive_failures: int = 10
    reset_timeout_s: float = 30.0
    half_open_max_calls: int = 3
    success_threshold: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.failure_rate_threshold <= 1.0:
            raise ValueError("failure_rate_threshold must be within (0, 1]")
        if self.window_s <= 0 or self.reset_timeout_s < 0:
            raise ValueError("window_s must be positive and reset_timeout_s non-negative")
        if min(self.min_calls, self.consecutive_failures, self.half_open_max_calls, self.success_threshold) < 1:
            raise ValueError("call counts must be at least 1")
        if self.success_threshold > self.half_open_max_calls:
            raise ValueError("success_threshold cannot exceed half_open_max_calls")


@dataclass(frozen=True)
class Transition:
    """One state change, with both clocks: wall time for people, monotonic for arithmetic."""

    dependency: str
    from_state: BreakerState
    to_state: BreakerState
    at_wall: datetime
    at_monotonic: float
    reason: str


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; hand it back through exactly one of the record/release methods."""

    generation: int
    trial: bool


class _Window:
    """Calls and failures per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float, clock: Clock) -> None:
        self._window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures]

    def add(self, failed: bool) -> None:
        second = int(self._clock())
        self._expire(second)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += int(failed)

    def totals(self) -> tuple[int, int]:
        self._expire(int(self._clock()))
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    def clear(self) -> None:
        self._buckets.clear()

    def _expire(self, second: int) -> None:
        horizon = second - int(self._window_s)
        while self._buckets and self._buckets[0][0] <= horizon:
            self._buckets.popleft()


class _TransitionListener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: RateBreaker) -> None:
        self._owner = owner

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        old = BreakerState(old_state.name) if old_state is not None else BreakerState.CLOSED
        self._owner._on_transition(old, BreakerState(new_state.name))


class RateBreaker:
    """One dependency's breaker. See the module docstring for the rules."""

    def __init__(
        self,
        dependency: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        on_transition: Callable[[Transition], None] | None = None,
        history: int = 32,
    ) -> None:
        self.dependency = dependency
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_transition_cb = on_transition
        self._window = _Window(self.config.window_s, clock)
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._generation = 0
        self._trials_in_flight = 0
        self._trial_successes = 0
        self._pending_reason = ""
        self._last_error: str | None = None
        self.transitions: deque[Transition] = deque(maxlen=history)
        self._cb = pybreaker.CircuitBreaker(
            fail_max=self.config.consecutive_failures,
            reset_timeout=self.config.reset_timeout_s,
            success_threshold=self.config.success_threshold,
            name=dependency,
            listeners=[_TransitionListener(self)],
        )

    # -- reading -----------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state, moving open -> half-open once ``reset_timeout_s`` has passed."""
        state = BreakerState(self._cb.current_state)
        if state is BreakerState.OPEN and self._clock() - self._opened_at >= self.config.reset_timeout_s:
            self._move(BreakerState.HALF_OPEN, "reset timeout elapsed")
            return BreakerState.HALF_OPEN
        return state

    @property
    def allows_calls(self) -> bool:
        """Whether a call could be attempted now (without taking a permit)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and self._trials_in_flight < self.config.half_open_max_calls

    def failure_rate(self) -> float:
        """Failure share of the calls in the current window (0.0 when there were none)."""
        calls, failures = self._window.totals()
        return failures / calls if calls else 0.0

    @property
    def last_error(self) -> str | None:
        return self._last_error

    # -- calling -----------------------------------------------------------------------------------

    def acquire(self) -> Permit:
        """A permit to call the dependency, or ``CircuitOpenError``."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self._generation, trial=False)
        if state is BreakerState.HALF_OPEN and self._trials_in_flight < self.config.half_open_max_calls:
            self._trials_in_flight += 1
            return Permit(self._generation, trial=True)
        detail = "breaker open" if state is BreakerState.OPEN else "half-open trials in flight"
        raise CircuitOpenError(self.dependency, detail)

    def record_success(self, permit: Permit) -> None:
        """The permitted call returned a good answer."""
        if not self._settle(permit):
            return
        if permit.trial:
            self._trial_successes += 1
            if self._trial_successes >= self.config.success_threshold:
                self._move(BreakerState.CLOSED, f"{self._trial_successes} successful trial calls")
            return
        self._consecutive_failures = 0
        self._window.add(failed=False)

    def record_failure(self, permit: Permit, error: str) -> None:
        """The permitted call failed in a way that says the dependency is unhealthy (timeouts included)."""
        self._last_error = error
        if not self._settle(permit):
            return
        if permit.trial:
            self._move(BreakerState.OPEN, f"trial call failed: {error}")
            return
        self._consecutive_failures += 1
        self._window.add(failed=True)
        reason = self._open_reason()
        if reason is not None:
            self._move(BreakerState.OPEN, f"{reason} ({error})")

    def _open_reason(self) -> str | None:
        """Why the breaker should open after this failure, or None.

        The rate alone is slow to see a dependency die under load: a window full of earlier successes
        needs as many failures again, and the background probe soon stops the calls that would supply
        them. Ten failures in a row are that evidence at once. A query type that always fails rarely makes
        such a streak: at a tenth of the traffic, ten calls in a row must all be of that type (its
        retries included) with no other user's call between them; ``features/llm_api_faults.feature``'s
        fare-question scenario checks the breaker stays closed under load (and catches the
        ``query-type-breaker`` variant, which counts failures without the calls around them).
        """
        if self._consecutive_failures >= self.config.consecutive_failures:
            return f"{self._consecutive_failures} consecutive failures"
        calls, failures = self._window.totals()
        if calls >= self.config.min_calls and failures / calls >= self.config.failure_rate_threshold:
            return f"failure rate {failures}/{calls} in {self.config.window_s:g}s"
        return None

    def release(self, permit: Permit) -> None:
        """Hand back a permit whose call says nothing about the dependency (cancelled, our own bug)."""
        self._settle(permit)

    # -- internals ---------------------------------------------------------------------------------

    def _settle(self, permit: Permit) -> bool:
        """Return the trial slot; True when the outcome still belongs to the current state."""
        current = permit.generation == self._generation
        if permit.trial and current:
            self._trials_in_flight -= 1
        return current

    def _move(self, to: BreakerState, reason: str) -> None:
        self._pending_reason = reason
        if to is BreakerState.OPEN:
            self._cb.open()
        elif to is BreakerState.HALF_OPEN:
            self._cb.half_open()
        else:
            self._cb.close()

    def _on_transition(self, old: BreakerState, new: BreakerState) -> None:
        """pybreaker's listener: reset our counters for the new state and record the transition."""
        self._generation += 1
        self._trials_in_flight = 0
        self._trial_successes = 0
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        if new is not BreakerState.HALF_OPEN:
            self._window.clear()
            self._consecutive_failures = 0
        transition = Transition(
            dependency=self.dependency,
            from_state=old,
            to_state=new,
            at_wall=datetime.now(UTC),
            at_monotonic=self._clock(),
            reason=self._pending_reason,
        )
        self.transitions.append(transition)
        if self._on_transition_cb is not None:
            self._on_transition_cb(transition)
