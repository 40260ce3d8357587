"""Reading a suite run's wall time and scenario durations from its results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.harness_cost import read_suite, suite_from_results
from core.errors import UsageError


def test_wall_time_runs_from_the_start_to_the_end_of_the_last_scenario() -> None:
    """Wall time is the run's start to the last scenario's start plus its duration."""
    data = {"run": {"started": "2026-11-28T10:00:00+00:00"}, "outcome": "passed",
            "scenarios": [{"started": "2026-11-28T10:00:05.000+00:00", "duration_s": 20.0},
                          {"started": "2026-11-28T10:00:30.000+00:00", "duration_s": 40.0}]}
    suite = suite_from_results(data, "runs/x")
    assert suite.wall_s == pytest.approx(70.0)
    assert suite.durations_s == (20.0, 40.0) and suite.median_scenario_s == 30.0
    assert suite.outcome == "passed" and suite.source == "runs/x"


def test_without_start_times_the_durations_are_summed() -> None:
    """Results without usable timestamps still give a wall time: the sum of the scenario durations."""
    suite = suite_from_results({"scenarios": [{"duration_s": 3.0}, {"duration_s": 4.0}]}, "x")
    assert suite.wall_s == 7.0


def test_reading_a_directory_without_results_is_a_usage_error(tmp_path: Path) -> None:
    """--suite-results pointing at something that is not a run directory is refused with exit code 2."""
    with pytest.raises(UsageError, match="results.json"):
        read_suite(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"scenarios": "nope"}))
    with pytest.raises(UsageError, match="not a run"):
        read_suite(tmp_path)
