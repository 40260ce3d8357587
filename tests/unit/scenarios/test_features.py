"""Planning a run: feature files parsed, tags filtered, every step matched, errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, ExitCode, UsageError
from core.settings import PROJECT_ROOT
from scenarios.features import check_steps, plan
from scenarios.steps import vocabulary

GOOD = """\
@smoke
Feature: Demo
  Scenario: Kill it
    Given the system is running in "normal" mode
    And a steady load of 5 users
    When the "vector-db" service is killed
    Then the mode becomes "degraded-no-context" within 5 seconds

  @slow
  Scenario: Slow it
    Given the system is running in "normal" mode
    When latency of 300 ms with jitter 20 ms is added to "vector-db"
    Then the p95 latency since the fault is below 800 ms
"""


def write(tmp_path: Path, text: str, name: str = "demo.feature") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plan_default_suite_matches_every_step() -> None:
    """The bundled features plan cleanly: at least twelve scenarios, every step known."""
    planned = plan([PROJECT_ROOT / "features"])
    assert len(planned) >= 12
    check_steps(planned, vocabulary())
    assert any("smoke" in s.tags for s in planned)


def test_plan_filters_by_tag_expression(tmp_path: Path) -> None:
    """Feature tags apply to every scenario; 'smoke and not slow' keeps only the first."""
    path = write(tmp_path, GOOD)
    assert [s.name for s in plan([path], "smoke and not slow")] == ["Kill it"]
    assert [s.name for s in plan([path], "slow")] == ["Slow it"]


def test_plan_rejects_a_malformed_tag_expression(tmp_path: Path) -> None:
    """A tag expression that does not parse is a usage error, not a crash."""
    with pytest.raises(UsageError, match="--tags"):
        plan([write(tmp_path, GOOD)], "smoke and (")


def test_unknown_step_names_file_and_line(tmp_path: Path) -> None:
    """A step no definition matches fails with file:line and exit code 2."""
    path = write(tmp_path, GOOD.replace("is killed", "is vaporised"))
    with pytest.raises(ConfigError) as info:
        check_steps(plan([path]), vocabulary())
    assert str(info.value).startswith(f"{path}:6: unknown step: When the \"vector-db\" service is vaporised")
    assert info.value.exit_code == ExitCode.USAGE


def test_unknown_step_error_is_one_line_with_the_closest_steps_first(tmp_path: Path) -> None:
    """The hint lists the patterns most like the step (first docstring lines only), all on one line."""
    path = write(tmp_path, GOOD.replace("is killed", "is vaporised"))
    with pytest.raises(ConfigError) as info:
        check_steps(plan([path]), vocabulary())
    message = str(info.value)
    assert "\n" not in message
    closest = message.split("; closest when steps: ", 1)[1].split(" || ")
    assert len(closest) == 5
    assert closest[0] == 'the "SERVICE" service is killed|stopped|paused|resumed|restarted'


def test_malformed_feature_names_file_and_line(tmp_path: Path) -> None:
    """A Gherkin syntax error is reported with the file and the line, not a traceback."""
    path = write(tmp_path, "Feature: Broken\n  Scenario: x\n    Given ok\n  Nonsense line here\n")
    with pytest.raises(ConfigError) as info:
        plan([path])
    assert str(info.value).startswith(f"{path}:4:")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"], ids=["empty", "comment", "blank"])
def test_feature_without_a_feature_line_is_a_config_error(tmp_path: Path, text: str) -> None:
    """A file with no Feature: line is exit 2 naming the file, not pytest-bdd's KeyError."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        plan([path])
    assert str(info.value) == f"{path}:1: no 'Feature:' line (the file is empty or only comments)"
    assert info.value.exit_code == ExitCode.USAGE


def test_plan_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    """Naming a feature file that does not exist is a usage error naming the path."""
    with pytest.raises(UsageError, match="no such feature file"):
        plan([tmp_path / "absent.feature"])


def test_step_steps_take_their_parameters_from_the_text() -> None:
    """Step patterns accept the vocabulary's variants (jitter optional, users singular)."""
    entries = vocabulary()

    def known(kind: str, text: str) -> bool:
        return any(e.matches(kind, text) for e in entries)

    assert known("when", 'latency of 300 ms is added to "vector-db"')
    assert known("when", 'latency of 300 ms with jitter 5 ms is added to "vector-db"')
    assert known("given", "a steady load of 1 user")
    assert known("then", 'the "llm" breaker went through "closed, open, half-open, closed"')
    assert not known("then", 'latency of 300 ms is added to "vector-db"')


def test_plan_picks_one_scenario_by_file_and_line(tmp_path: Path) -> None:
    """FILE:LINE selects the scenario written at or spanning that line; a line before any is an error."""
    path = tmp_path / "demo.feature"
    path.write_text(GOOD)
    assert [s.name for s in plan([Path(f"{path}:3")])] == ["Kill it"]
    assert [s.name for s in plan([Path(f"{path}:13")])] == ["Slow it"]
    with pytest.raises(UsageError, match="no scenario at or before this line"):
        plan([Path(f"{path}:1")])
    with pytest.raises(UsageError, match=r"demo.feature:99: the file has 13 lines"):
        plan([Path(f"{path}:99")])
