"""Alert steps in real scenarios: the shipped rules fire and resolve where they should and stay quiet under
an absorbed fault; a flawed rule file is caught by the same scenarios (never fires; pages on a harmless fault).

Each run is the real engine (``run_scenarios``) against the real reference system behind the real
Toxiproxy, with Locust load and its own real Prometheus; ``for:`` is shrunk to 2 s through settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from monitoring.plan import plan_monitoring
from scenarios.context import RunOptions
from scenarios.runner import run_scenarios
from system import ManagedSystem
from tests.integration.conftest import FAST_LLM
from tests.integration.monitoring.monitoring_lab import free_offset

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEATURE = """\
Feature: Alerts under faults
  Scenario: A slow LLM pages through the latency SLO
    Given the system is running in "normal" mode
    And no alert is firing
    And a steady load of 10 users
    When latency of 1500 ms is added to "llm"
    Then the alert "ChatbotLatencyHigh" fires within 15 seconds
    When all faults are removed
    Then the alert "ChatbotLatencyHigh" resolves within 40 seconds of the heal

  Scenario: A vector-db 300 ms slower pages no one
    Given the system is running in "normal" mode
    And no alert is firing
    And a steady load of 10 users
    When latency of 300 ms is added to "vector-db"
    And 6 seconds pass
    Then no alert fired
"""
FLAWED = DEFAULT_TOPOLOGY.parent / "monitoring" / "flawed" / "alerts.rules.yml"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedSystem]:
    """The reference system, up before the runs (so each run leaves it running), stopped by PID after."""
    offset = free_offset()
    settings = replace(HarnessSettings.from_env({}).with_overrides(
        port_offset=offset, state_dir=tmp_path_factory.mktemp("alert-state")), alert_for_override_s=2.0)
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(offset)
    managed = ManagedSystem(topology, settings, overrides={"llm": FAST_LLM})
    managed.up()
    try:
        yield managed
    finally:
        managed.down()
        managed.close()


def _run(system: ManagedSystem, tmp_path: Path, rules: list[Path]) -> dict[str, Any]:
    # Its own file name per run: the engine's generated test module is named after it, and two runs in
    # one process (these tests) must not import two modules of the same name.
    feature = tmp_path / f"alerts_{len(rules)}.feature"
    feature.write_text(FEATURE)
    out = tmp_path / "run"
    plan = plan_monitoring(system.topology, system.settings, rule_files=rules)
    assert plan is not None
    options = RunOptions(features=(feature,), out_dir=out, seed=5)
    run_scenarios(options, system.settings, system.topology,
                  lambda: ManagedSystem(system.topology, system.settings, overrides={"llm": FAST_LLM}), plan.build)
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def _verdict(scenario: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(v for v in scenario["verdicts"] if v["name"].startswith(prefix))


def test_alert_scenarios_shipped_rules_fire_resolve_and_stay_quiet(system: ManagedSystem, tmp_path: Path) -> None:
    """Shipped rules: the latency alert fires and resolves (times in the verdicts and the alert lane data),
    and the 300 ms fault pages no one."""
    data = _run(system, tmp_path, [])
    slow, absorbed = data["scenarios"]
    assert slow["outcome"] == "passed", slow["message"]
    fired = _verdict(slow, 'alert "ChatbotLatencyHigh" fires')
    assert fired["expected"] == "firing <= 15s after the fault (for: 2s)"
    assert fired["observed"].startswith("fired after ") and 0 < fired["value"] <= 15
    resolved = _verdict(slow, 'alert "ChatbotLatencyHigh" resolves')
    assert resolved["observed"].startswith("resolved ") and 0 < resolved["value"] <= 40
    [alert] = [a for a in slow["alerts"] if a["name"] == "ChatbotLatencyHigh"]
    assert alert["pending_at"] <= alert["fired_at"] < alert["resolved_at"]
    assert slow["summary"]["time_to_alert_s"] == pytest.approx(fired["value"], abs=0.01)
    assert absorbed["outcome"] == "passed", absorbed["message"]
    assert _verdict(absorbed, "no alert fired")["observed"].startswith("none in ")
    assert (tmp_path / "run" / "prometheus" / "data").is_dir()


def test_alert_scenarios_catch_a_flawed_rule_file(system: ManagedSystem, tmp_path: Path) -> None:
    """The flawed rule file fails both scenarios, each at the step written for its flaw: an SLO alert
    that never fires, and an alert that pages on a harmless fault."""
    data = _run(system, tmp_path, [FLAWED])
    slow, absorbed = data["scenarios"]
    assert slow["outcome"] == "failed"
    never = _verdict(slow, 'alert "ChatbotLatencyHigh" fires')
    assert never["passed"] is False and never["observed"].startswith("not fired after")
    assert "line 7" in slow["message"]
    assert absorbed["outcome"] == "failed"
    noisy = _verdict(absorbed, "no alert fired")
    assert noisy["passed"] is False and "ChatbotVectorDbSlow" in noisy["observed"]
    assert data["outcome"] == "failed"
