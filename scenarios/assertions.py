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

from . import metrics, stream_metrics
from .records import ERROR_EVENT, RequestRecord, StatusSample


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


def waiting_users(records: Sequence[RequestRecord], now: float, max_s: float,
                  slack_s: float = 1.0) -> dict[str, float]:
    """Users whose last request ended more than ``max_s`` (+ ``slack_s``) before ``now``, with how long.

    A request writes its record only when it ends, so one that hangs is invisible to checks over
    records: a sleeping retry or a stalled stream would make "nothing took longer than N" pass while
    users wait. A user of a steady load that has answered nothing for that long is stuck in a request
    that has lasted at least that long (``slack_s`` covers its think time and the record flush). A
    user that never finished any request is not seen this way.
    """
    last_end: dict[str, float] = {}
    for r in records:
        if r.user:
            last_end[r.user] = max(last_end.get(r.user, r.t), r.t + r.latency_s)
    return {user: now - end for user, end in last_end.items() if now - end > max_s + slack_s}


def slowest_below(records: Sequence[RequestRecord], max_s: float, label: str,
                  now: float | None = None, users_seen: Sequence[RequestRecord] = ()) -> Verdict:
    """No request, answered or not, took longer than ``max_s``: the bound a request deadline promises.

    With ``now``, a request still open after ``max_s`` fails it too (``waiting_users`` over
    ``users_seen``, the records that say which users the load has)."""
    name = f"no request {label} took longer than {max_s * 1000:g} ms".replace("  ", " ")
    if not records:
        return Verdict(name, False, f"<= {max_s * 1000:g} ms", "no requests")
    slowest = max(records, key=lambda r: r.latency_s)
    value = slowest.latency_s
    observed = f"slowest {value * 1000:.1f} ms of {len(records)} requests"
    waiting = waiting_users(users_seen or records, now, max_s) if now is not None else {}
    if waiting:
        longest = max(waiting.values())
        observed += f"; {len(waiting)} users waiting on a request for {min(waiting.values()):.1f}s or more"
        return Verdict(name, False, f"<= {max_s * 1000:g} ms", observed, now, max(value, longest))
    return Verdict(name, value <= max_s, f"<= {max_s * 1000:g} ms", observed, slowest.t, value)


def no_server_errors(records: Sequence[RequestRecord]) -> Verdict:
    """No request got a 5xx answer, and no streamed answer reported an error in-band (``event: error``)."""
    errors = [r for r in records if r.server_error]
    if not errors:
        return Verdict("no request returned a server error", True, "0 server errors", f"0 of {len(records)}")
    codes = sorted({r.status for r in errors if r.status >= 500})
    kinds = [f"status {', '.join(map(str, codes))}"] if codes else []
    events = sum(r.error == ERROR_EVENT for r in errors)
    if events:
        kinds.append(f"{events} streamed with an error event")
    return Verdict("no request returned a server error", False, "0 server errors",
                   f"{len(errors)} of {len(records)} ({'; '.join(kinds)})", errors[0].t)


def notices_present(records: Sequence[RequestRecord], mode: str) -> Verdict:
    """Every answer in ``mode`` carried a notice, and there was at least one such answer."""
    name = f'every "{mode}" answer carries a notice'
    in_mode = [r for r in records if r.mode == mode]
    if not in_mode:
        return Verdict(name, False, "at least one answer, all with a notice", f'no "{mode}" answers')
    missing = [r for r in in_mode if not r.notice]
    observed = f"{len(in_mode) - len(missing)} of {len(in_mode)} with a notice"
    return Verdict(name, not missing, "all with a notice", observed, missing[0].t if missing else in_mode[-1].t)


# -- streamed answers (POST /chat/stream) ------------------------------------------------------------


def ttft_below(records: Sequence[RequestRecord], q: float, max_s: float, label: str) -> Verdict:
    """The q-th percentile time to first token of the streams that got one is below ``max_s``."""
    name = f"p{q:g} time to first token {label} is below {max_s * 1000:g} ms".replace("  ", " ")
    judged = stream_metrics.streams(records)
    value = stream_metrics.ttft_percentiles(judged, (q,))[q]
    if value is None:
        observed = "no streamed requests" if not judged else f"no first token in {len(judged)} streams"
        return Verdict(name, False, f"< {max_s * 1000:g} ms", observed, judged[-1].t if judged else None)
    without = sum(r.ttft_ms is None for r in judged)
    observed = f"{value * 1000:.1f} ms over {len(judged) - without} streams" + (
        f" ({without} without a first token)" if without else "")
    return Verdict(name, value < max_s, f"< {max_s * 1000:g} ms", observed, judged[-1].t, value)


def interrupted_notices(records: Sequence[RequestRecord]) -> Verdict:
    """Every interrupted stream (partial, or broken after its first token) carried a notice, and at
    least one stream was interrupted: a check that saw no interruption proves nothing."""
    name = "every interrupted streamed answer carries a notice"
    broken = [r for r in stream_metrics.streams(records) if stream_metrics.interrupted(r)]
    if not broken:
        return Verdict(name, False, "at least one interrupted answer, all with a notice",
                       f"no interrupted answers among {len(stream_metrics.streams(records))} streams")
    missing = [r for r in broken if not r.notice]
    observed = f"{len(broken) - len(missing)} of {len(broken)} with a notice"
    if missing:
        # "partial" when the system said so in done; otherwise how the stream broke (StreamCut, Timeout...).
        kinds: dict[str, int] = {}
        for r in missing:
            kind = "partial" if r.outcome == "partial" else r.error or "error"
            kinds[kind] = kinds.get(kind, 0) + 1
        observed += "; without one: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return Verdict(name, not missing, "all with a notice", observed, missing[0].t if missing else broken[-1].t)


def no_stream_hung(records: Sequence[RequestRecord], max_s: float | None, now: float,
                   slack_s: float = 1.0) -> Verdict:
    """No stream was ended by the client's bound (its request timeout); with ``max_s``, none took longer,
    and none is still open after ``max_s``.

    A stalled stream writes no record until the client gives up on it, which may be long after the
    check. So with ``max_s`` a streaming user whose last answer ended more than ``max_s`` (+
    ``slack_s`` for its think time and the record flush) before ``now`` counts as hung: it is stuck in
    a request that has lasted that long. That holds while the load keeps its users; a user that never
    finished any stream is not seen this way.
    """
    name = "no streamed answer hung" + (f" for more than {max_s:g}s" if max_s is not None else "")
    expected = "0 streams ended by the client's timeout" + (
        f", none longer than {max_s:g}s or still open after it" if max_s is not None else "")
    judged = stream_metrics.streams(records)
    if not judged:
        return Verdict(name, False, expected, "no streamed requests")
    ended = [r for r in judged if stream_metrics.hung(r, max_s)]
    open_for = waiting_users(judged, now, max_s, slack_s) if max_s is not None else {}
    slowest = max([r.latency_s for r in judged] + list(open_for.values()))
    observed = f"{len(ended)} of {len(judged)} ended hung (slowest {slowest:.2f}s)"
    if open_for:
        observed += f"; {len(open_for)} users waiting on a stream for {min(open_for.values()):.1f}s or more"
    at = ended[0].t if ended else now if open_for else judged[-1].t
    return Verdict(name, not ended and not open_for, expected, observed, at, slowest)


def complete_at_least(records: Sequence[RequestRecord], min_ratio: float, label: str) -> Verdict:
    """At least ``min_ratio`` of the streams ended with ``done`` saying complete (partial ones do not count)."""
    name = f"at least {min_ratio * 100:g}% of streamed answers were complete {label}".strip()
    ratio = stream_metrics.complete_share(records)
    if ratio is None:
        return Verdict(name, False, f">= {min_ratio * 100:g}%", "no streamed requests")
    counts = stream_metrics.outcome_counts(records)
    observed = f"{ratio * 100:.2f}% of {sum(counts.values())} (" + ", ".join(
        f"{n} {outcome}" for outcome, n in counts.items() if n) + ")"
    return Verdict(name, ratio >= min_ratio, f">= {min_ratio * 100:g}%", observed,
                   stream_metrics.streams(records)[-1].t, ratio)
