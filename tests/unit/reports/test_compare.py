"""Comparing two runs: limits, matching, and every rule that makes NEW a regression, on hand-built results."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConfigError, UsageError
from reports.compare import (
    AVAILABILITY,
    P95,
    TIME_TO_DEGRADE,
    TIME_TO_RECOVER,
    Limit,
    Thresholds,
    compare_runs,
)
from tests.unit.reports.builders import run, scenario

# -- Limit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "absolute", "relative"), [
    ("2s", 2.0, 0.0), ("2", 2.0, 0.0), ("1.5 s", 1.5, 0.0), ("500ms", 0.5, 0.0), ("50%", 0.0, 0.5),
    ("50%,20ms", 0.02, 0.5), ("20ms+50%", 0.02, 0.5), (".5", 0.5, 0.0), ("0", 0.0, 0.0),
])
def test_limit_parse_reads_seconds_milliseconds_and_percentages(text: str, absolute: float, relative: float) -> None:
    """Seconds (bare or with s), milliseconds and percentages parse into the absolute and relative parts."""
    assert Limit.parse(text) == Limit(absolute=absolute, relative=relative)


@pytest.mark.parametrize("text", ["", "x", "-1s", "5x", "50%,60%", "1s,2s", "1h", "nan", "%"])
def test_limit_parse_refuses_what_it_cannot_read(text: str) -> None:
    """Garbage, negative values, units it does not know and a part given twice are usage errors naming the text."""
    with pytest.raises(UsageError, match="limit"):
        Limit.parse(text)


def test_limit_needs_growth_beyond_both_parts() -> None:
    """With 50% and 20 ms, 4→9 ms (+125%, +5 ms) and 100→140 ms (+40 ms, +40%) pass; 100→160 ms fails."""
    limit = Limit.parse("50%,20ms")
    assert not limit.exceeded(0.004, 0.009)
    assert not limit.exceeded(0.100, 0.140)
    assert limit.exceeded(0.100, 0.160)


def test_limit_at_exactly_the_limit_is_not_exceeded() -> None:
    """Growth equal to the limit is allowed; only growth beyond it counts."""
    assert not Limit.parse("1s").exceeded(2.0, 3.0)
    assert Limit.parse("1s").exceeded(2.0, 3.001)


def test_limit_describes_itself_in_the_units_it_was_given() -> None:
    """A limit prints as the user would write it, so messages quote it back recognisably."""
    assert str(Limit.parse("50%,20ms")) == "50% and 20 ms"
    assert str(Limit.parse("2s")) == "2 s"
    assert str(Limit()) == "0 s"


def test_thresholds_refuse_a_negative_or_nan_availability_drop() -> None:
    """A negative or NaN percentage-point limit is a usage error, not a comparison that never fires."""
    with pytest.raises(UsageError):
        Thresholds(availability_drop_pp=-1.0)
    with pytest.raises(UsageError):
        Thresholds(availability_drop_pp=float("nan"))


# -- verdicts --------------------------------------------------------------------------------------


def test_compare_identical_runs_has_no_regression() -> None:
    """A run compared with itself regresses nowhere, and every figure is paired with itself."""
    results = run(scenario(), scenario("LLM killed", p95=0.007))
    comparison = compare_runs(results, results)
    assert not comparison.regressed
    assert comparison.regressions() == []
    first = comparison.scenarios[0].figure(P95)
    assert first is not None and (first.base, first.new, first.regressed) == (0.066, 0.066, False)


@pytest.mark.parametrize(("changed", "figure", "words"), [
    ({"degrade": 1.2}, TIME_TO_DEGRADE, "time to degrade grew 1.10 s"),
    ({"recover": 32.5}, TIME_TO_RECOVER, "time to recover grew 2.50 s"),
    ({"availability": 0.94}, AVAILABILITY, "availability fell 6.00 pp"),
    ({"p95": 0.120}, P95, "p95 latency grew 54 ms"),
])
def test_compare_flags_a_figure_beyond_its_default_limit(changed: dict[str, float], figure: str, words: str) -> None:
    """Each compared figure, moved past its default limit, is a regression of that figure alone."""
    comparison = compare_runs(run(scenario()), run(scenario(**changed)))  # type: ignore[arg-type]
    (only,) = comparison.scenarios
    assert [f.figure for f in only.figures if f.regressed] == [figure]
    assert comparison.regressed
    assert len(comparison.regressions()) == 1 and words in comparison.regressions()[0]


@pytest.mark.parametrize("changed", [
    {"degrade": 1.0}, {"recover": 31.9}, {"availability": 0.951}, {"p95": 0.098},
])
def test_compare_allows_changes_within_the_default_limits(changed: dict[str, float]) -> None:
    """Moves just inside each default limit (1 s, 2 s, 5 pp, 50% and 20 ms) are not regressions."""
    assert not compare_runs(run(scenario()), run(scenario(**changed))).regressed  # type: ignore[arg-type]


def test_compare_uses_the_users_thresholds() -> None:
    """A tighter user limit turns a change the defaults allow into a regression, and a looser one back."""
    base, new = run(scenario(recover=30.0)), run(scenario(recover=31.0))
    assert not compare_runs(base, new).regressed
    assert compare_runs(base, new, Thresholds(recover=Limit.parse("500ms"))).regressed
    assert not compare_runs(base, new, Thresholds(recover=Limit.parse("5%"))).regressed


def test_compare_never_flags_improvements() -> None:
    """Faster degradation and recovery, higher availability and lower p95 are not regressions."""
    base = run(scenario(degrade=3.0, recover=30.0, availability=0.9, p95=0.5))
    new = run(scenario(degrade=0.1, recover=5.0, availability=1.0, p95=0.05))
    assert not compare_runs(base, new).regressed


def test_compare_scenario_missing_in_new_is_a_regression() -> None:
    """A scenario BASE ran and NEW did not is a regression; one only NEW has is listed, not flagged."""
    comparison = compare_runs(run(scenario("kept"), scenario("dropped")), run(scenario("kept"), scenario("added")))
    by_name = {s.name: s for s in comparison.scenarios}
    assert by_name["dropped"].new_outcome is None and by_name["dropped"].regressed
    assert by_name["added"].base_outcome is None and not by_name["added"].regressed
    assert comparison.regressions() == ["dropped: missing in NEW"]


@pytest.mark.parametrize(("base", "new", "regressed"), [
    ("passed", "failed", True), ("passed", "error", True), ("passed", "interrupted", True),
    ("failed", "failed", False), ("failed", "passed", False), ("error", "failed", False),
])
def test_compare_outcome_regresses_only_from_passed(base: str, new: str, regressed: bool) -> None:
    """Passed → anything else is a regression; a scenario that already did not pass is not one again."""
    comparison = compare_runs(run(scenario(outcome=base)), run(scenario(outcome=new)))
    assert comparison.regressed is regressed
    assert (f"passed in BASE, {new} in NEW" in comparison.regressions()[0]) if regressed else True


def test_compare_figure_measured_in_base_but_not_in_new_is_a_regression() -> None:
    """A system that never came back to normal (no time to recover) regressed; a figure neither run has did not."""
    comparison = compare_runs(run(scenario(degrade=None)), run(scenario(degrade=None, recover=None)))
    (only,) = comparison.scenarios
    assert [f.figure for f in only.figures if f.regressed] == [TIME_TO_RECOVER]
    assert "time to recover measured in BASE but not in NEW" in only.problems[0]


def test_compare_figure_new_in_new_is_not_a_regression() -> None:
    """A figure only NEW measured (the mode now leaves normal under this fault) is shown, not flagged."""
    comparison = compare_runs(run(scenario(degrade=None)), run(scenario(degrade=0.2)))
    assert not comparison.regressed
    change = comparison.scenarios[0].figure(TIME_TO_DEGRADE)
    assert change is not None and (change.base, change.new) == (None, 0.2)


def test_compare_matches_the_same_feature_file_from_another_checkout() -> None:
    """A scenario under a different absolute path but the same file name and scenario name is the same scenario."""
    base = run(scenario(path="/ci/build-1/features/dependency_loss.feature"))
    new = run(scenario(path="/home/me/repo/features/dependency_loss.feature", p95=0.5))
    comparison = compare_runs(base, new)
    (only,) = comparison.scenarios
    assert only.base_outcome == only.new_outcome == "passed"
    assert [f.figure for f in only.figures if f.regressed] == [P95]


def test_compare_keeps_same_named_scenarios_of_different_files_apart() -> None:
    """Two files with a scenario of the same name are two scenarios; dropping one is a regression."""
    base = run(scenario("Kill", path="/a/features/one.feature"), scenario("Kill", path="/a/features/two.feature"))
    new = run(scenario("Kill", path="/a/features/one.feature"))
    comparison = compare_runs(base, new)
    assert comparison.regressions() == ["Kill: missing in NEW"]
    assert [s.path for s in comparison.scenarios if s.regressed] == ["/a/features/two.feature"]


def test_compare_does_not_guess_between_ambiguous_loose_matches() -> None:
    """When a file name + scenario name pair is not unique, nothing is matched loosely: missing and added."""
    base = run(scenario(path="/x/a/f.feature"), scenario(path="/x/b/f.feature"))
    new = run(scenario(path="/y/a/f.feature"), scenario(path="/y/b/f.feature"))
    comparison = compare_runs(base, new)
    assert [(s.base_outcome, s.new_outcome) for s in comparison.scenarios] == [
        ("passed", None), ("passed", None), (None, "passed"), (None, "passed")]


def test_compare_repeated_attempts_use_the_median_and_all_must_pass() -> None:
    """Three attempts are judged on their median p95 (one outlier is not a regression); one failure fails them."""
    base = run(*(scenario(p95=0.066, attempt=a) for a in (1, 2, 3)))
    new = run(scenario(p95=0.070, attempt=1), scenario(p95=2.0, attempt=2), scenario(p95=0.068, attempt=3))
    comparison = compare_runs(base, new)
    (only,) = comparison.scenarios
    change = only.figure(P95)
    assert change is not None and change.new == 0.070 and not change.regressed
    assert only.attempts == (3, 3)
    flaky = run(scenario(attempt=1), scenario(outcome="failed", attempt=2), scenario(attempt=3))
    assert compare_runs(base, flaky).regressions() == ["Vector-db killed: passed in BASE, failed in NEW"]


@pytest.mark.parametrize(("results", "words"), [
    ({"scenarios": {}}, "'scenarios' list"),
    ({"scenarios": [{"summary": {}}]}, "scenario 1: expected an object with a 'name'"),
    ({"scenarios": [{"name": "x", "summary": []}]}, "'summary' is not an object"),
    ({"scenarios": [{"name": "x", "summary": {"p95_s": "fast"}}]}, "summary.p95_s is not a number"),
])
def test_compare_malformed_results_raise_config_error_naming_the_source(results: dict[str, Any], words: str) -> None:
    """Results that are not what results.json holds raise ConfigError naming the source and the scenario."""
    with pytest.raises(ConfigError, match="^new/results.json: .*" + words.replace("(", r"\(").replace(")", r"\)")):
        compare_runs(run(scenario()), results, new_source="new/results.json")
