"""--dry-run's plan: built from feature files alone, validated like a run, errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.topology import load_topology
from scenarios.features import plan
from scenarios.preview import PreviewContext, plan_scenarios, render
from scenarios.steps import vocabulary

FEATURE = """\
Feature: Demo
  Scenario: Kill, wait, recover
    Given the system is running in "normal" mode
    And a steady load of 5 users
    When the "vector-db" service is killed
    Then the mode becomes "degraded-no-context" within 5 seconds
    When 10 seconds pass
    And the "vector-db" service is restarted
    Then the mode becomes "normal" within 40 seconds
"""


def plans_for(tmp_path: Path, text: str, users: int | None = None) -> str:
    path = tmp_path / "demo.feature"
    path.write_text(text)
    return render(plan_scenarios(plan([path]), vocabulary(), PreviewContext(load_topology(), users)))


def test_plan_lists_load_faults_waits_and_bounded_checks_with_times(tmp_path: Path) -> None:
    """Each step becomes a timed line; "within N" and "N seconds pass" push later steps by N."""
    text = plans_for(tmp_path, FEATURE)
    assert "load    5 users" in text
    assert "t<=   0s  fault   kill on vector-db" in text
    assert "t<=   5s  wait    10 s under load" in text
    assert "t<=  15s  revert  restarted: vector-db" in text
    assert "(at most 55 s of steps)" in text


def test_users_override_is_shown_and_checked(tmp_path: Path) -> None:
    """--users replaces every steady load in the plan, and an out-of-range one is refused at its line."""
    assert "load    7 users" in plans_for(tmp_path, FEATURE, users=7)
    with pytest.raises(ConfigError, match=r"demo.feature:4: load users must be"):
        plans_for(tmp_path, FEATURE, users=100_000)


@pytest.mark.parametrize(("step", "fragment"), [
    ('When latency of 4000000 ms is added to "vector-db"', "latency_ms"),
    ('When "vector-db" resets 300% of connections', "probability"),
    ('When "redis" is partitioned from the gateway', "'redis'"),
    ('When the "redis" service is killed', "'redis' is not a service"),
])
def test_bad_fault_parameters_and_targets_name_the_line(tmp_path: Path, step: str, fragment: str) -> None:
    """The fault spec the step would build is validated now: ConfigError at the step's line."""
    text = FEATURE.replace('When the "vector-db" service is killed', step)
    with pytest.raises(ConfigError, match=rf"demo.feature:5: .*{fragment}"):
        plans_for(tmp_path, text)
