"""Assertions on a recorded run, each returning a ``Verdict`` with what was expected and what was seen.

They are pure functions over the observer's samples, the breaker transitions and the load's request
records, so they can be tested on recorded timelines with known answers and re-evaluated offline.
Time bounds are product features (``the mode becomes X within 5 seconds``), measured on the monotonic
clock from the event named in the step (usually the last fault's injection or revert).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import metrics
from .records import RequestRecord, StatusSample


@dataclass(frozen=True)
class Verdict:
    """The outcome of one assertion; ``at`` is when it was decided (monotonic), for plots."""

    name: str
    passed: bool
    expected: str
    observed: str
    at: float | None = None
    value: float | None = None  # the measured figure, when there is one (seconds, ratio)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "expected": self.expected, "observed": self.observed,
                "at": None if self.at is None else round(self.at, 6), "value": self.value}

    def message(self) -> str:
        return f"{self.name}: expected {self.expected}, observed {self.observed}"


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f}s"


def _modes_seen(samples: Sequence[StatusSample]) -> str:
    seen: list[str] = []
    for s in samples:
        label = s.mode or f"unreadable({s.error})"
        if not seen or seen[-1] != label:
            seen.append(label)
    return " -> ".join(seen[-6:]) if seen else "no samples"


def mode_becomes(samples: Sequence[StatusSample], mode: str, since: float, within_s: float, now: float) -> Verdict:
    """The observed mode equals ``mode`` at some sample in [since, since + within_s]."""
    name = f'mode becomes "{mode}" within {within_s:g}s'
    hit = metrics.first_sample(samples, since, lambda s: s.mode == mode)
    if hit is not None and hit.t - since <= within_s:
        return Verdict(name, True, f"<= {within_s:g}s", f"after {_fmt(hit.t - since)}", hit.t, hit.t - since)
    window = [s for s in samples if since <= s.t <= since + within_s]
    observed = f"not within {within_s:g}s (modes: {_modes_seen(window)})"
    if hit is not None:
        observed += f"; reached after {_fmt(hit.t - since)}"
    if now < since + within_s:
        observed = f"not yet after {_fmt(now - since)} (modes: {_modes_seen(window)})"
    return Verdict(name, False, f"<= {within_s:g}s", observed, min(now, since + within_s))


def mode_stays(samples: Sequence[StatusSample], mode: str, start: float, end: float, max_gap_s: float = 1.0) -> Verdict:
    """Every sample in [start, end] reports ``mode``, with no gap longer than ``max_gap_s`` between them."""
    name = f'mode stays "{mode}" for {end - start:g}s'
    window = [s for s in samples if start <= s.t <= end]
    if not window:
        return Verdict(name, False, f'"{mode}" throughout', "no samples in the window", start)
    cursor = start
    for s in window:
        if s.t - cursor > max_gap_s:
            return Verdict(name, False, f'"{mode}" throughout', f"no sample for {_fmt(s.t - cursor)}", cursor)
        if s.mode != mode:
            seen = s.mode or f"unreadable ({s.error})"
            return Verdict(name, False, f'"{mode}" throughout', f'"{seen}" after {_fmt(s.t - start)}', s.t)
        cursor = s.t
    if end - cursor > max_gap_s:
        return Verdict(name, False, f'"{mode}" throughout', f"no sample for the last {_fmt(end - cursor)}", cursor)
    return Verdict(name, True, f'"{mode}" throughout', f"{len(window)} samples, all {mode}", end)


def breaker_reaches(
    timeline: Sequence[tuple[float, str]], dependency: str, state: str, since: float, within_s: float, now: float
) -> Verdict:
    """The breaker is in ``state`` at some point in [since, since + within_s]."""
    name = f'"{dependency}" breaker {state} within {within_s:g}s'
    before = [st for t, st in timeline if t <= since]
    if before and before[-1] == state:
        return Verdict(name, True, f"<= {within_s:g}s", f"already {state}", since, 0.0)
    for t, st in timeline:
        if t >= since and st == state:
            if t - since <= within_s:
                return Verdict(name, True, f"<= {within_s:g}s", f"after {_fmt(t - since)}", t, t - since)
            return Verdict(name, False, f"<= {within_s:g}s", f"after {_fmt(t - since)}", since + within_s, t - since)
    states = " -> ".join(st for t, st in timeline if t >= since) or (before[-1] if before else "unknown")
    return Verdict(name, False, f"<= {within_s:g}s", f"not {state} (states: {states})", min(now, since + within_s))


def breaker_sequence(timeline: Sequence[tuple[float, str]], dependency: str, expected: Sequence[str], since: float) -> Verdict:
    """The breaker went through ``expected`` states in this order since ``since`` (other states may come
    between them, e.g. a failed trial's extra open/half-open cycle)."""
    name = f'"{dependency}" breaker went through {", ".join(expected)}'
    relevant = [(t, st) for t, st in timeline if t >= since]
    before = [st for t, st in timeline if t < since]
    if before and (not relevant or relevant[0][1] != before[-1]):
        relevant.insert(0, (since, before[-1]))
    observed = [st for _, st in relevant]
    i = 0
    at = None
    for t, st in relevant:
        if i < len(expected) and st == expected[i]:
            i += 1
            at = t
    seen = ", ".join(observed) or "nothing"
    return Verdict(name, i == len(expected), ", ".join(expected), seen, at)


def availability_at_least(records: Sequence[RequestRecord], min_ratio: float, label: str) -> Verdict:
    """At least ``min_ratio`` of the requests got an HTTP 200 answer (degraded answers count)."""
    name = f"at least {min_ratio * 100:g}% of requests succeeded {label}".strip()
    ratio = metrics.availability(records)
    if ratio is None:
        return Verdict(name, False, f">= {min_ratio * 100:g}%", "no requests were made")
    failed = len(records) - sum(r.ok for r in records)
    observed = f"{ratio * 100:.2f}% of {len(records)} ({failed} failed)"
    return Verdict(name, ratio >= min_ratio, f">= {min_ratio * 100:g}%", observed, records[-1].t, ratio)


def latency_below(records: Sequence[RequestRecord], q: float, max_s: float, label: str) -> Verdict:
    """The q-th percentile latency of answered requests is below ``max_s``."""
    name = f"p{q:g} latency {label} is below {max_s * 1000:g} ms".replace("  ", " ")
    value = metrics.latency_percentiles(records, (q,))[q]
    if value is None:
        return Verdict(name, False, f"< {max_s * 1000:g} ms", "no answered requests")
    observed = f"{value * 1000:.1f} ms over {len(records)} requests"
    return Verdict(name, value < max_s, f"< {max_s * 1000:g} ms", observed, records[-1].t, value)


def slowest_below(records: Sequence[RequestRecord], max_s: float, label: str) -> Verdict:
    """No request, answered or not, took longer than ``max_s``: the bound a request deadline promises."""
    name = f"no request {label} took longer than {max_s * 1000:g} ms".replace("  ", " ")
    if not records:
        return Verdict(name, False, f"<= {max_s * 1000:g} ms", "no requests")
    slowest = max(records, key=lambda r: r.latency_s)
    value = slowest.latency_s
    observed = f"slowest {value * 1000:.1f} ms of {len(records)} requests"
    return Verdict(name, value <= max_s, f"<= {max_s * 1000:g} ms", observed, slowest.t, value)


def no_server_errors(records: Sequence[RequestRecord]) -> Verdict:
    """No request got a 5xx answer."""
    errors = [r for r in records if r.server_error]
    if not errors:
        return Verdict("no request returned a server error", True, "0 server errors", f"0 of {len(records)}")
    codes = sorted({r.status for r in errors})
    return Verdict("no request returned a server error", False, "0 server errors",
                   f"{len(errors)} of {len(records)} (status {', '.join(map(str, codes))})", errors[0].t)


def notices_present(records: Sequence[RequestRecord], mode: str) -> Verdict:
    """Every answer in ``mode`` carried a notice, and there was at least one such answer."""
    name = f'every "{mode}" answer carries a notice'
    in_mode = [r for r in records if r.mode == mode]
    if not in_mode:
        return Verdict(name, False, "at least one answer, all with a notice", f'no "{mode}" answers')
    missing = [r for r in in_mode if not r.notice]
    observed = f"{len(in_mode) - len(missing)} of {len(in_mode)} with a notice"
    return Verdict(name, not missing, "all with a notice", observed, missing[0].t if missing else in_mode[-1].t)
