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


@pytest.mark.parametrize(("load", "shown"), [
    ("And a steady load of 20 streaming users", "load    20 users, all streaming (/chat/stream)"),
    ("And a steady load of 20 users, half of them streaming", "load    20 users, 10 streaming (/chat/stream)"),
    ("And a steady load of 10 users, 30% of them streaming", "load    10 users, 3 streaming (/chat/stream)"),
])
def test_plan_shows_streaming_load(tmp_path: Path, load: str, shown: str) -> None:
    """A streaming load step is previewed with how many users stream."""
    assert shown in plans_for(tmp_path, FEATURE.replace("And a steady load of 5 users", load))


def test_plan_refuses_a_stream_share_above_all_users(tmp_path: Path) -> None:
    """150% of the users streaming is refused at the step's line."""
    text = FEATURE.replace("And a steady load of 5 users", "And a steady load of 5 users, 150% of them streaming")
    with pytest.raises(ConfigError, match=r"demo.feature:4: load stream share must be between 0 and 1"):
        plans_for(tmp_path, text)


def test_plan_accepts_the_stream_checks(tmp_path: Path) -> None:
    """The four stream assertions are known steps, shown as checks."""
    checks = ["Then the p95 time to first token since the fault is below 800 ms",
              "Then every interrupted streamed answer carries a notice",
              "Then no streamed answer hung", "Then no streamed answer hung for more than 6 seconds",
              "Then at least 90% of streamed answers were complete since the fault"]
    text = plans_for(tmp_path, FEATURE + "".join(f"    {c}\n" for c in checks))
    for check in checks:
        assert f"check   {check.removeprefix('Then ')}" in text
