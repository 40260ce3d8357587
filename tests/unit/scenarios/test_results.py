"""Repeat runs: per-attempt seeds, pass rates with Wilson intervals, the results.json fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.outcome import Outcome
from scenarios.records import RequestRecord
from scenarios.results import ScenarioResult, pass_rates, per_second, scenario_seed, wilson_interval, write_results


def test_wilson_interval_known_values() -> None:
    """Known answers: 5/5 gives [0.566, 1], 0/5 gives [0, 0.434], 8/10 gives [0.490, 0.943]."""
    assert wilson_interval(5, 5) == pytest.approx((0.5655, 1.0), abs=1e-3)
    assert wilson_interval(0, 5) == pytest.approx((0.0, 0.4345), abs=1e-3)
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_first_attempt_keeps_the_run_seed_and_later_ones_are_derived() -> None:
    """Attempt 1 replays with --seed S; later attempts get distinct seeds, the same for the same S."""
    assert scenario_seed(42, 1) == 42
    seeds = [scenario_seed(42, k) for k in range(2, 7)]
    assert len(set(seeds)) == 5 and 42 not in seeds
    assert seeds == [scenario_seed(42, k) for k in range(2, 7)]


def result(line: int, outcome: str, attempt: int) -> ScenarioResult:
    r = ScenarioResult(f"scenario {line}", "feature", "f.feature", line, [], 0.0, 0.0, finished=1.0,
                       attempt=attempt, seed=attempt)
    r.outcome = Outcome(outcome)
    return r


def test_pass_rates_group_attempts_by_scenario() -> None:
    """Two scenarios with 3 attempts each: counts, rate and interval per scenario, in plan order."""
    results = [result(3, o, k) for k, o in enumerate(["passed", "failed", "passed"], 1)]
    results += [result(9, o, k) for k, o in enumerate(["passed", "error", "passed"], 1)]
    rates = pass_rates(results)
    assert [(r["line"], r["runs"], r["passed"], r["failed"], r["error"]) for r in rates] == [
        (3, 3, 2, 1, 0), (9, 3, 2, 0, 1)]
    assert rates[0]["rate"] == pytest.approx(0.6667, abs=1e-4)
    assert rates[0]["ci_low"] < rates[0]["rate"] < rates[0]["ci_high"]


def test_results_carry_attempt_seed_and_pass_rates_only_when_repeated(tmp_path: Path) -> None:
    """Each scenario records its attempt and seed; pass_rates appear with run.repeat > 1."""
    results = [result(3, "passed", 1), result(3, "failed", 2)]
    write_results(tmp_path / "r.json", {"repeat": 2}, Outcome.FAILED, results, [])
    data = json.loads((tmp_path / "r.json").read_text())
    assert [(s["attempt"], s["seed"]) for s in data["scenarios"]] == [(1, 1), (2, 2)]
    assert data["pass_rates"][0]["rate"] == 0.5
    write_results(tmp_path / "one.json", {"repeat": 1}, Outcome.PASSED, results[:1], [])
    assert "pass_rates" not in json.loads((tmp_path / "one.json").read_text())


def streamed(t: float, outcome: str, ttft_ms: float | None) -> RequestRecord:
    return RequestRecord(t=t, wall=0.0, latency_s=0.4, status=200, mode="normal", name="chat-stream",
                         ttft_ms=ttft_ms, tokens=3 if ttft_ms else 0, outcome=outcome,
                         error="StreamCut" if outcome == "error" else None)


def test_per_second_buckets_carry_ttft_and_outcomes_of_streams() -> None:
    """A second with streams gets TTFT percentiles, partial and error counts; a /chat-only second does not."""
    records = [RequestRecord(0.2, 0.0, 0.05, 200, "normal")]
    records += [streamed(1.0 + i / 10, "complete", 100.0 + 10 * i) for i in range(8)]
    records += [streamed(1.8, "partial", 50.0), streamed(1.9, "error", None)]
    buckets = per_second(records, 0.0)
    assert set(buckets[0]) == {"t", "requests", "errors", "p50_s", "p95_s", "p99_s", "modes"}
    second = buckets[1]
    assert (second["streams"], second["partial"], second["stream_errors"], second["errors"]) == (10, 1, 1, 1)
    # nearest rank over 50 ms and 100..170 ms: the 5th of 9 and the 9th of 9
    assert second["ttft_p50_s"] == pytest.approx(0.13) and second["ttft_p95_s"] == pytest.approx(0.17)
    assert second["modes"] == {"normal": 9, "error": 1}  # the cut stream knew its mode, and still failed


def test_summary_has_stream_figures_only_when_the_load_streamed() -> None:
    """TTFT percentiles and outcome counts join the summary with streams, and stay out without them."""
    plain = result(3, "passed", 1)
    plain.records = [RequestRecord(0.2, 0.0, 0.05, 200, "normal")]
    assert "streams" not in plain.summary()
    mixed = result(3, "passed", 1)
    mixed.records = plain.records + [streamed(0.5, "complete", 80.0), streamed(0.6, "partial", 120.0)]
    summary = mixed.summary()
    assert summary["streams"] == 2 and summary["ttft_p95_s"] == pytest.approx(0.12)
    assert summary["stream_outcomes"] == {"complete": 1, "partial": 1, "error": 0}
    assert summary["availability"] == 1.0
