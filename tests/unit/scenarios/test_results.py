"""Repeat runs: per-attempt seeds, pass rates with Wilson intervals, the results.json fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.results import ScenarioResult, pass_rates, scenario_seed, wilson_interval, write_results


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
    r.outcome = outcome
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
    write_results(tmp_path / "r.json", {"repeat": 2}, "failed", results, [])
    data = json.loads((tmp_path / "r.json").read_text())
    assert [(s["attempt"], s["seed"]) for s in data["scenarios"]] == [(1, 1), (2, 2)]
    assert data["pass_rates"][0]["rate"] == 0.5
    write_results(tmp_path / "one.json", {"repeat": 1}, "passed", results[:1], [])
    assert "pass_rates" not in json.loads((tmp_path / "one.json").read_text())
