"""Alert steps checked before a run starts: names against the loaded rules, bounds, PromQL, monitoring on."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from monitoring.rules import load_rules
from monitoring.server import find_binary
from monitoring.session import Monitoring
from scenarios.features import plan
from scenarios.steps.alerts import alert_steps, check_alert_steps

RULES = Path(__file__).resolve().parents[3] / "system_under_test" / "monitoring" / "alerts.rules.yml"


def _feature(tmp_path: Path, *steps: str) -> Path:
    body = "\n".join(f"    {s}" for s in steps)
    path = tmp_path / "a.feature"
    path.write_text(f"Feature: f\n  Scenario: s\n    Given a steady load of 2 users\n{body}\n")
    return path


def _monitoring(tmp_path: Path) -> Monitoring:
    settings = HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path / "state")
    monitoring = Monitoring(load_topology(DEFAULT_TOPOLOGY), settings, tmp_path, rules=load_rules([RULES]))
    monitoring.client.close()
    return monitoring


def test_alert_steps_known_alerts_and_valid_promql_pass(tmp_path: Path) -> None:
    """Known names, reachable bounds and parseable PromQL pass; every alert step is found."""
    path = _feature(tmp_path, 'Then the alert "ChatbotDegraded" fires within 30 seconds',
                    'And the alert "ChatbotDegraded" resolves within 60 seconds of the heal', "And no alert fired",
                    'And the PromQL "sum(rate(chatbot_requests_total{status=~"5.."}[10s]))" is below 0.01 since the fault')
    planned = plan([path])
    assert [kind for _, _, kind, _ in alert_steps(planned)] == ["fires", "resolves", "none", "promql"]
    check_alert_steps(planned, _monitoring(tmp_path), find_binary(None, "promtool"))


@pytest.mark.parametrize(("step", "words"), [
    ('Then the alert "ChatbotDegradd" fires within 30 seconds', 'unknown alert "ChatbotDegradd"'),
    ('Then the alert "ChatbotDegraded" fires within 5 seconds', "cannot fire within 5 s: its for: is 10s"),
    ('Then the PromQL "sum(rate(x[5m])" is below 1 since the start', "does not parse"),
])
def test_alert_steps_refused_with_file_and_line(tmp_path: Path, step: str, words: str) -> None:
    """An unknown alert, a bound below for:, or bad PromQL is a ConfigError naming the feature's file:line."""
    path = _feature(tmp_path, step)
    with pytest.raises(ConfigError) as caught:
        check_alert_steps(plan([path]), _monitoring(tmp_path), find_binary(None, "promtool"))
    assert str(caught.value).startswith(f"{path}:4: ")
    assert words in str(caught.value)


def test_alert_steps_without_monitoring_are_refused(tmp_path: Path) -> None:
    """An alert step in a run without monitoring names its line and how to turn monitoring on."""
    path = _feature(tmp_path, "Then no alert fired")
    with pytest.raises(ConfigError) as caught:
        check_alert_steps(plan([path]), None)
    assert f"{path}:4:" in str(caught.value) and "--monitoring" in str(caught.value)
