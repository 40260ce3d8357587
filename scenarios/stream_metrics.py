"""Figures of streamed answers: time to first token, outcomes, interrupted and hung streams.

Pure functions over ``RequestRecord``s, shared by the assertions and the report like
``scenarios.metrics``; they look only at streamed records (``record.streamed``) and leave the ones the
harness cancelled when it stopped the load out, since those say nothing about the system.

What counts as what, for a streamed answer:

    complete     the ``done`` event said so
    partial      the ``done`` event said the answer was interrupted (it should carry a notice)
    interrupted  partial, or an error after at least one token (cut, stalled or failed mid-answer):
                 the user saw half an answer, and only a notice tells them so
    hung         ended by the client's own bound (error ``Timeout``): the system never finished it
"""

from __future__ import annotations

from collections.abc import Sequence

from .metrics import CANCELLED, percentile
from .records import COMPLETE, OUTCOMES, PARTIAL, STREAM_ERROR, RequestRecord

TIMEOUT = "Timeout"  # the load generator's name for a request ended by its deadline


def streams(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    """The streamed records the system is judged on (cancelled ones left out)."""
    return [r for r in records if r.streamed and r.error != CANCELLED]


def ttft_percentiles(records: Sequence[RequestRecord], qs: Sequence[float] = (50, 95)) -> dict[float, float | None]:
    """Time-to-first-token percentiles in seconds, over the streams that received a first token.

    A stream that never got one has no time to first token; ``hung`` and the outcome counts see it.
    """
    values = [r.ttft_ms / 1000.0 for r in streams(records) if r.ttft_ms is not None]
    return {q: percentile(values, q) for q in qs}


def outcome_counts(records: Sequence[RequestRecord]) -> dict[str, int]:
    """Streams by outcome, every outcome present (zero when none ended that way)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in streams(records):
        counts[r.outcome or STREAM_ERROR] = counts.get(r.outcome or STREAM_ERROR, 0) + 1
    return counts


def complete_share(records: Sequence[RequestRecord]) -> float | None:
    """Share of streams whose ``done`` said complete; None without streams."""
    judged = streams(records)
    if not judged:
        return None
    return sum(r.outcome == COMPLETE for r in judged) / len(judged)


def interrupted(record: RequestRecord) -> bool:
    """The answer stopped after it had begun: partial, or an error once a token had arrived."""
    if record.outcome == PARTIAL:
        return True
    return record.outcome == STREAM_ERROR and bool(record.tokens) and record.error != CANCELLED


def hung(record: RequestRecord, max_s: float | None = None) -> bool:
    """Ended by the client's bound, or (with ``max_s``) took longer than ``max_s`` however it ended."""
    return record.error == TIMEOUT or (max_s is not None and record.latency_s > max_s)
