"""Assertions and figures on streamed answers, over records whose answers are known."""

from __future__ import annotations

import json

import pytest

from scenarios import assertions, metrics, stream_metrics
from scenarios.records import RequestRecord


def stream(t: float, outcome: str = "complete", *, ttft_ms: float | None = 100.0, tokens: int = 5,
           latency: float = 0.5, notice: bool = False, error: str | None = None, status: int = 200,
           user: str = "load-local-0") -> RequestRecord:
    return RequestRecord(t=t, wall=0.0, latency_s=latency, status=status, mode="normal", notice=notice, error=error,
                         name="chat-stream", worker="local", user=user, ttft_ms=ttft_ms, tokens=tokens,
                         tokens_per_s=20.0 if tokens > 1 else None, outcome=outcome)


def chat(t: float, status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, wall=0.0, latency_s=0.05, status=status, mode="normal" if status == 200 else None)


def test_stream_record_ok_counts_partial_answers_not_broken_streams() -> None:
    """Partial counts as an answer (like a degraded one), a cut or error-event stream as a failure;
    /chat records keep their rule (200 is success)."""
    records = [stream(1), stream(2, "partial", notice=True), stream(3, "error", error="StreamCut"),
               stream(4, "error", error="ErrorEvent"), chat(5), chat(6, 503)]
    assert [r.ok for r in records] == [True, True, False, False, True, False]
    assert metrics.availability(records) == pytest.approx(3 / 6)


def test_no_server_errors_counts_in_band_error_events() -> None:
    """A 503 and a stream that sent event: error are both server errors, reported apart."""
    verdict = assertions.no_server_errors([stream(1), stream(2, "error", error="ErrorEvent"), chat(3, 503)])
    assert not verdict.passed
    assert verdict.observed == "2 of 3 (status 503; 1 streamed with an error event)"
    assert assertions.no_server_errors([stream(1), stream(2, "error", error="StreamCut")]).passed


def test_ttft_percentile_is_over_streams_that_got_a_first_token() -> None:
    """p95 of 20 TTFTs of 10..200 ms is 190 ms; a stream without a first token is named, not counted."""
    records = [stream(i, ttft_ms=10.0 * (i + 1)) for i in range(20)] + [stream(30, "error", ttft_ms=None, tokens=0,
                                                                             error="Timeout"), chat(31)]
    assert stream_metrics.ttft_percentiles(records)[95] == pytest.approx(0.19)
    verdict = assertions.ttft_below(records, 95, 0.2, "since the fault")
    assert verdict.passed and verdict.value == pytest.approx(0.19)
    assert verdict.observed == "190.0 ms over 20 streams (1 without a first token)"
    assert not assertions.ttft_below(records, 95, 0.15, "since the fault").passed


def test_ttft_fails_without_streams_or_first_tokens() -> None:
    """No streamed requests, or streams that never got a token, cannot show a TTFT below a bound."""
    assert assertions.ttft_below([chat(1)], 95, 1.0, "").observed == "no streamed requests"
    no_token = [stream(1, "error", ttft_ms=None, tokens=0, error="Timeout")]
    assert assertions.ttft_below(no_token, 95, 1.0, "").observed == "no first token in 1 streams"


def test_interrupted_notices_fail_for_a_partial_or_cut_answer_without_one() -> None:
    """Partial answers with notices pass; one without, or a stream cut after its tokens, fails."""
    fine = [stream(1), stream(2, "partial", notice=True), stream(3, "partial", notice=True)]
    assert assertions.interrupted_notices(fine).passed
    silent = fine + [stream(4, "partial"), stream(5, "error", error="StreamCut"), stream(6, "error", error="Timeout")]
    verdict = assertions.interrupted_notices(silent)
    assert not verdict.passed and verdict.at == 4
    assert verdict.observed == "2 of 5 with a notice; without one: 1 StreamCut, 1 Timeout, 1 partial"


def test_interrupted_notices_fail_when_nothing_was_interrupted() -> None:
    """Only complete answers, or errors before any token, prove nothing about interruptions."""
    records = [stream(1), stream(2, "error", tokens=0, ttft_ms=None, error="StreamCut"),
               stream(3, "error", error="Cancelled")]
    verdict = assertions.interrupted_notices(records)
    assert not verdict.passed and verdict.observed == "no interrupted answers among 2 streams"


def test_no_stream_hung_fails_on_a_timeout_or_a_slow_stream() -> None:
    """A Timeout record fails "no streamed answer hung"; with N seconds a 3 s stream fails a 2 s bound."""
    records = [stream(1), stream(2, "error", error="Timeout", latency=40.0)]
    assert not assertions.no_stream_hung(records, None, now=50.0).passed
    slow = [stream(1, latency=3.0), stream(2, latency=0.4, user="load-local-1")]
    assert assertions.no_stream_hung(slow, None, now=4.5).passed
    verdict = assertions.no_stream_hung(slow, 2.0, now=4.5)
    assert not verdict.passed and verdict.value == pytest.approx(3.0)


def test_no_stream_hung_sees_a_user_stuck_in_an_open_stream() -> None:
    """A streaming user whose last answer ended 5 s ago is waiting on a stream: hung for a 2 s bound."""
    records = [stream(1.0, user="a"), stream(9.0, user="b"), stream(9.6, user="b")]
    verdict = assertions.no_stream_hung(records, 2.0, now=6.5 + 4.0)
    assert not verdict.passed
    assert "1 users waiting on a stream for 9.0s or more" in verdict.observed
    assert assertions.no_stream_hung(records, 2.0, now=3.0 + 0.5).passed


def test_complete_share_leaves_partial_answers_out() -> None:
    """8 complete, 1 partial and 1 cut stream are 80% complete; cancelled ones are not judged."""
    records = [stream(i) for i in range(8)] + [stream(8, "partial", notice=True), stream(9, "error", error="StreamCut"),
                                              stream(10, "error", error="Cancelled"), chat(11)]
    verdict = assertions.complete_at_least(records, 0.8, "since the fault")
    assert verdict.passed and verdict.value == pytest.approx(0.8)
    assert verdict.observed == "80.00% of 10 (8 complete, 1 partial, 1 error)"
    assert not assertions.complete_at_least(records, 0.9, "since the fault").passed
    assert assertions.complete_at_least([chat(1)], 0.5, "").observed == "no streamed requests"


def test_stream_record_json_round_trips_and_chat_records_keep_their_shape() -> None:
    """A stream record survives JSON; a /chat record has no stream keys; an unknown outcome is refused."""
    original = stream(1.5, "partial", notice=True)
    data = json.loads(json.dumps(original.to_json()))
    assert RequestRecord.from_json(data) == original
    assert set(chat(1).to_json()) == {"t", "wall", "latency_s", "status", "mode", "notice", "cached", "error", "name",
                                      "worker"}
    assert RequestRecord.from_json(chat(1).to_json()).outcome is None
    with pytest.raises(ValueError, match="unknown stream outcome"):
        RequestRecord.from_json({**data, "outcome": "finished"})
