"""The shipped alert rules, checked and unit-tested by Prometheus's own promtool (part of the test command).

promtool comes with Debian's prometheus package, which scripts/setup.sh installs: a missing promtool
fails these tests (with the fix), it never skips them, so rules cannot go untested unnoticed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from core.errors import PrometheusError
from monitoring.rules import load_rules
from monitoring.server import find_binary

RULES_DIR = Path(__file__).resolve().parents[4] / "system_under_test" / "monitoring"
RULES = RULES_DIR / "alerts.rules.yml"
TESTS = RULES_DIR / "alerts.test.yml"
FLAWED = RULES_DIR / "flawed" / "alerts.rules.yml"


@pytest.fixture(scope="module")
def promtool() -> Path:
    """promtool from Debian's prometheus package; the test fails (not skips) when it is missing."""
    try:
        return find_binary(None, "promtool")
    except PrometheusError as exc:
        pytest.fail(f"{exc}: the alert rules cannot be tested without it")


def _run(promtool: Path, *args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_alert_rules_promtool_check_passes(promtool: Path) -> None:
    """promtool check rules accepts the shipped rules and the flawed copy (its flaws are semantic)."""
    for path in (RULES, FLAWED):
        done = _run(promtool, "check", "rules", str(path))
        assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_promtool_unit_tests_pass(promtool: Path) -> None:
    """promtool test rules passes every case of alerts.test.yml."""
    done = _run(promtool, "test", "rules", TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_alert_rules_every_rule_has_a_firing_and_a_quiet_case() -> None:
    """Each shipped alert has a unit case where it fires and one where it must stay quiet."""
    cases = yaml.safe_load(TESTS.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = load_rules([RULES]).names()
    assert names - firing == set(), f"alerts never shown firing: {sorted(names - firing)}"
    assert names - quiet == set(), f"alerts never shown quiet: {sorted(names - quiet)}"


def test_alert_rules_every_alert_has_severity_and_runbook() -> None:
    """Every alert says how urgent it is and what to do: severity page|ticket, summary, runbook."""
    for rule in load_rules([RULES]).alerts:
        assert rule.labels.get("severity") in ("page", "ticket"), rule.where
        assert rule.annotations.get("summary") and rule.annotations.get("runbook"), rule.where
        assert rule.for_s > 0, f"{rule.where}: an alert without for: pages on one evaluation"


def test_alert_rules_unit_tests_catch_a_loosened_threshold(promtool: Path, tmp_path: Path) -> None:
    """The unit tests can fail: the error-ratio threshold raised from 5% to 50% breaks its firing case."""
    text = RULES.read_text()
    assert text.count("> 0.05\n") == 1
    (tmp_path / RULES.name).write_text(text.replace("> 0.05\n", "> 0.5\n"))
    (tmp_path / TESTS.name).write_text(TESTS.read_text())
    done = _run(promtool, "test", "rules", TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "ChatbotErrorRatioHigh" in done.stdout + done.stderr


def test_alert_rules_flawed_copy_differs_only_where_documented() -> None:
    """The flawed copy has the shipped alerts plus ChatbotVectorDbSlow; only ChatbotLatencyHigh's expr changed."""
    shipped = {r.name: r for r in load_rules([RULES]).alerts}
    flawed = {r.name: r for r in load_rules([FLAWED]).alerts}
    assert set(flawed) - set(shipped) == {"ChatbotVectorDbSlow"}
    assert set(shipped) <= set(flawed)
    changed = {name for name in shipped if (shipped[name].expr, shipped[name].for_s) != (flawed[name].expr, flawed[name].for_s)}
    assert changed == {"ChatbotLatencyHigh"}
    assert flawed["ChatbotVectorDbSlow"].for_s == 0
