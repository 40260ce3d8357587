"""Numbers computed from a run's records: percentiles, availability, time-to-degrade/recover, mode shares.

Pure functions over the records of ``scenarios.records``, shared by the assertions and the report, so
a figure in the report is exactly the figure an assertion checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from .records import RequestRecord, StatusSample

NORMAL = "normal"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 < q <= 100) by nearest rank; None for no values."""
    if not values:
        return None
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be within (0, 100], got {q}")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(0, rank - 1)]


def window(records: Iterable[RequestRecord], since: float | None = None, until: float | None = None) -> list[RequestRecord]:
    """Records of requests that *started* within [since, until]."""
    return [r for r in records if (since is None or r.t >= since) and (until is None or r.t <= until)]


CANCELLED = "Cancelled"  # the load generator's mark for a request cut off because the harness stopped it


def availability(records: Sequence[RequestRecord]) -> float | None:
    """Share of requests that got a usable (HTTP 200) answer; None when there were none. Requests the
    harness itself cancelled when it stopped the load say nothing about the system and are left out."""
    judged = [r for r in records if r.error != CANCELLED]
    if not judged:
        return None
    return sum(r.ok for r in judged) / len(judged)


def latency_percentiles(records: Sequence[RequestRecord], qs: Sequence[float] = (50, 95, 99)) -> dict[float, float | None]:
    """Latency percentiles (seconds) of answered requests."""
    latencies = [r.latency_s for r in records if r.status]
    return {q: percentile(latencies, q) for q in qs}


def first_sample(
    samples: Iterable[StatusSample], since: float, predicate: Callable[[StatusSample], bool]
) -> StatusSample | None:
    """The first sample at or after ``since`` for which ``predicate(sample)`` is true."""
    for sample in samples:
        if sample.t >= since and predicate(sample):
            return sample
    return None


def time_to_degrade(samples: Sequence[StatusSample], fault_at: float) -> float | None:
    """Seconds from a fault's injection to the first sample whose mode is not normal."""
    hit = first_sample(samples, fault_at, lambda s: s.mode is not None and s.mode != NORMAL)
    return None if hit is None else hit.t - fault_at


def time_to_recover(samples: Sequence[StatusSample], reverted_at: float) -> float | None:
    """Seconds from a fault's revert to the first sample back in normal mode."""
    hit = first_sample(samples, reverted_at, lambda s: s.mode == NORMAL)
    return None if hit is None else hit.t - reverted_at


def mode_shares(samples: Sequence[StatusSample], start: float, end: float) -> dict[str, float]:
    """Share of [start, end] spent in each mode, holding each sample's mode until the next sample.

    Time before the first sample, or with /status unreadable, counts as "unknown".
    """
    if end <= start:
        return {}
    durations: dict[str, float] = {}
    current = "unknown"
    cursor = start
    for sample in samples:
        if sample.t <= start:
            current = sample.mode or "unknown"
            continue
        if sample.t >= end:
            break
        durations[current] = durations.get(current, 0.0) + sample.t - cursor
        cursor, current = sample.t, sample.mode or "unknown"
    durations[current] = durations.get(current, 0.0) + end - cursor
    total = end - start
    return {mode: d / total for mode, d in durations.items() if d > 0}


def breaker_timeline(
    samples: Sequence[StatusSample], transitions: Sequence[tuple[float, str, str]], dependency: str
) -> list[tuple[float, str]]:
    """The breaker's states over time as (t, state), consecutive entries differing.

    When the system reports transitions (t, from, to) they are authoritative: a sampler may miss a
    short half-open phase, a transition list does not. Otherwise the sampled states are used.
    """
    sampled = [(s.t, s.breakers[dependency]) for s in samples if dependency in s.breakers]
    points: list[tuple[float, str]] = []
    if transitions:
        ordered = sorted(transitions)
        if sampled and sampled[0][0] < ordered[0][0]:
            points.append(sampled[0])
        else:
            points.append((ordered[0][0], ordered[0][1]))
        points.extend((t, to) for t, _, to in ordered)
    else:
        points = sampled
    out: list[tuple[float, str]] = []
    for t, state in points:
        if not out or out[-1][1] != state:
            out.append((t, state))
    return out
