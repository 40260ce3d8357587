"""How fast the reference system degrades, fails fast, and recovers, under steady load.

For each dependency and each way of losing it, under a steady Locust load:

    inject ─┬─ first answer in the degraded mode ──── time to degrade (answer)
            └─ breaker seen open ───────────────────── time to degrade (breaker)
              hold the breaker open: p99 of the answers = fast fail
    revert ─┬─ breaker seen closed again ─┐
            └─ first answer in normal ────┴─────────── time to recover (the later of the two)

Each time is compared with the bound the configuration implies. A refused connection (kill,
partition) is noticed at once, so its part is the worst-case retry sleeps; a blackhole is only
noticed when the per-attempt timeout fires, so its part is that timeout. To that come the requests
that must meet the fault: a fault is only noticed by requests that start after it, one for the first
degraded answer and ``consecutive_failures`` for the breaker, each arriving after the mean gap
between request starts; and the last of them still does its own work (a normal request's p99). The
gap and the p99 come from the same steady load, in normal mode, just before the faults. Recovery waits out the
breaker's ``reset_timeout`` (measured from the revert, which comes right after the breaker opened),
then the half-open trial calls: the goal is ``reset_timeout + 2 s``.

Breaker times come from the observer, which merges the transitions the gateway reports (with their
own time stamps) into its 10 Hz samples, so a time is not rounded up to the next sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import InfrastructureError
from faults.base import FaultSpec
from faults.network_specs import Blackhole, Partition
from faults.service import Kill
from faults.session import FaultSession
from scenarios.metrics import percentile
from scenarios.observer import Observer
from scenarios.records import RequestRecord

from .locust_load import Load
from .profile import ReferenceKnobs

DEGRADED_MODE = {"vector-db": "degraded-no-context", "llm": "degraded-cache-only"}
FAULTS: dict[str, Callable[[str], FaultSpec]] = {"kill": Kill, "partition": Partition, "blackhole": Blackhole}
REFUSED = {"kill", "partition"}  # connections refused (or reset) at once, as opposed to silence
RECOVERY_SLACK_S = 2.0


@dataclass(frozen=True)
class Case:
    """One fault case's timings, seconds; None when the event was not seen before the wait gave up."""

    fault: str
    dependency: str
    bound_s: float  # for the first degraded answer
    first_answer_s: float | None
    breaker_open_s: float | None
    recover_s: float | None
    open_latencies_s: tuple[float, ...]  # answers while the breaker was held open
    open_at_revert_s: float = 0.0  # how long the breaker had been open when the fault was reverted
    breaker_bound_s: float = 0.0


@dataclass(frozen=True)
class SteadyLoad:
    """How the steady load meets a fault: the mean gap between request starts and the normal p99."""

    gap_s: float
    p99_s: float


def degrade_bound(knobs: ReferenceKnobs, fault: str, dependency: str, load: SteadyLoad, requests: int = 1) -> float:
    """The time-to-degrade the configuration implies when ``requests`` requests must meet the fault
    (see the module docstring)."""
    config = knobs.retry_sleeps_s(dependency) if fault in REFUSED else knobs.timeout_s(dependency)
    return config + requests * load.gap_s + load.p99_s


def first_answer(records: Sequence[RequestRecord], mode: str, since: float) -> float | None:
    """The monotonic time the first answer in ``mode`` *arrived* at or after ``since``."""
    arrivals = [r.t + r.latency_s for r in records if r.mode == mode and r.ok and r.t + r.latency_s >= since]
    return min(arrivals, default=None)


def first_breaker(observer: Observer, dependency: str, state: str, since: float) -> float | None:
    """The first time at or after ``since`` the dependency's breaker was in ``state``: a transition
    the system reported, or else the first sample showing it."""
    times = [t for t, _, to in observer.transitions(dependency, since=since) if to == state]
    sample = next((s.t for s in observer.samples(since=since) if s.breakers.get(dependency) == state), None)
    if sample is not None:
        times.append(sample)
    return min(times, default=None)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll ``condition`` until it holds; InfrastructureError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise InfrastructureError(f"bench: {what} did not happen within {timeout_s:g} s")
        time.sleep(interval_s)


def settled(observer: Observer, mode: str = "normal", all_closed: bool = True) -> bool:
    """The latest sample shows ``mode`` (and, with ``all_closed``, every breaker closed)."""
    sample = observer.latest()
    if sample is None or sample.mode != mode:
        return False
    return not all_closed or all(s == "closed" for s in sample.breakers.values())


def run_case(load: Load, observer: Observer, faults: FaultSession, knobs: ReferenceKnobs, fault: str,
             dependency: str, steady: SteadyLoad, hold_open_s: float) -> Case:
    """Inject one fault under the running load, time its effects, revert it, time the recovery."""
    bound = degrade_bound(knobs, fault, dependency, steady)
    breaker_bound = degrade_bound(knobs, fault, dependency, steady, knobs.consecutive_failures)
    mode = DEGRADED_MODE[dependency]
    wait_for(lambda: settled(observer) and answering_normally(load.records(), time.monotonic()),
             knobs.reset_timeout_s + 30, "the system settling in normal mode")
    injected = time.monotonic()
    handle = faults.inject(FAULTS[fault](dependency))
    wait_for(lambda: first_answer(load.records(), mode, injected) is not None
             and first_breaker(observer, dependency, "open", injected) is not None,
             breaker_bound + 20, f"a {mode} answer and an open {dependency} breaker after {fault}")
    opened = first_breaker(observer, dependency, "open", injected)
    answered = first_answer(load.records(), mode, injected)
    time.sleep(hold_open_s)
    held_until = time.monotonic()
    faults.revert(handle)
    reverted = time.monotonic()
    wait_for(lambda: first_breaker(observer, dependency, "closed", reverted) is not None
             and first_answer(load.records(), "normal", reverted) is not None,
             knobs.reset_timeout_s + 30, f"{dependency} recovering after {fault} was reverted")
    closed = first_breaker(observer, dependency, "closed", reverted)
    normal = first_answer(load.records(), "normal", reverted)
    assert opened is not None and answered is not None and closed is not None and normal is not None
    open_from = opened + 0.1  # requests already in flight when it opened are not fast-fail answers
    latencies = tuple(r.latency_s for r in load.records() if open_from <= r.t and r.t + r.latency_s <= held_until
                      and r.ok)
    return Case(fault, dependency, bound, answered - injected, opened - injected,
                max(closed, normal) - reverted, latencies, reverted - opened, breaker_bound)


def answering_normally(records: Sequence[RequestRecord], now: float, window_s: float = 0.5, least: int = 5) -> bool:
    """At least ``least`` answers arrived in the last ``window_s`` and every one was normal: a breaker
    that /status calls closed can still be letting the last half-open trials finish."""
    recent = [r for r in records if now - window_s <= r.t + r.latency_s <= now]
    return len(recent) >= least and all(r.ok and r.mode == "normal" for r in recent)


def measure_steady(load: Load, warmup_s: float, window_s: float) -> SteadyLoad:
    """The steady load in normal mode, as every bound uses it."""
    stats = load.hold(warmup_s, window_s)
    if stats.p99_s is None or not stats.finished:
        raise InfrastructureError("bench: the steady load got no answers in normal mode")
    return SteadyLoad(stats.seconds / stats.finished, stats.p99_s)


def fast_fail_p99(cases: Sequence[Case], dependency: str) -> float | None:
    """p99 of every answer given while ``dependency``'s breaker was held open, over all fault kinds."""
    latencies = [x for c in cases if c.dependency == dependency for x in c.open_latencies_s]
    return percentile(latencies, 99)
