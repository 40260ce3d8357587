"""The CLI's monitoring: bad input stops it before anything starts; 'up --monitoring' and 'down' own Prometheus."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.processes import is_running
from core.settings import PROJECT_ROOT
from core.state import StateFile
from monitoring.config import prometheus_port
from tests.integration.monitoring.monitoring_lab import free_offset

pytestmark = [pytest.mark.integration]

FEATURE = """\
Feature: f
  Scenario: s
    Given the system is running in "normal" mode
    And a steady load of 2 users
    Then the alert "{name}" fires within 30 seconds
"""


def _harness(state: Path, offset: int, *words: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), words[0], "--port-offset", str(offset),
               "--state-dir", str(state), *words[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT,
                          env={**os.environ, "HARNESS_STATE_DIR": str(state)})


def _nothing_started(state: Path) -> None:
    assert not StateFile(state / "state.json").load(), "no service was started"
    assert not StateFile(state / "prometheus.json").load(), "no Prometheus was started"
    assert not (state / "toxiproxy.json").exists() or not StateFile(state / "toxiproxy.json").load()


def test_monitoring_cli_rule_file_that_does_not_parse_exits_2(tmp_path: Path) -> None:
    """--alert-rules naming a broken file: one line 'file:line: ...', exit 2, nothing started."""
    rules = tmp_path / "bad.rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon\n")
    feature = tmp_path / "f.feature"
    feature.write_text(FEATURE.format(name="A"))
    result = _harness(tmp_path / "state", free_offset(), "run", str(feature), "--alert-rules", str(rules))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"harness: {rules}:6: alert 'A': for: 'soon' is not a Prometheus "
                                                  "duration (like 30s, 1m30s, 500ms)"]
    _nothing_started(tmp_path / "state")


def test_monitoring_cli_unknown_alert_in_a_step_exits_2(tmp_path: Path) -> None:
    """A step naming an alert the rules do not define: the feature's file:line and the known names, exit 2."""
    feature = tmp_path / "f.feature"
    feature.write_text(FEATURE.format(name="ChatbotOnFire"))
    result = _harness(tmp_path / "state", free_offset(), "run", str(feature))
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f'harness: {feature}:5: unknown alert "ChatbotOnFire" (alerts in ')
    assert "ChatbotDegraded" in line
    _nothing_started(tmp_path / "state")


def test_monitoring_cli_unreachable_prometheus_url_exits_3(tmp_path: Path) -> None:
    """--prometheus-url where nothing answers: one line naming the flag, exit 3, nothing started."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    feature = tmp_path / "f.feature"
    feature.write_text(FEATURE.format(name="ChatbotDegraded"))
    url = f"http://127.0.0.1:{port}"
    result = _harness(tmp_path / "state", free_offset(), "run", str(feature), "--prometheus-url", url)
    assert result.returncode == 3, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"--prometheus-url {url}" in line and "unreachable" in line
    _nothing_started(tmp_path / "state")


@pytest.mark.slow
def test_monitoring_cli_up_starts_prometheus_and_down_stops_it(tmp_path: Path) -> None:
    """'harness up --monitoring' leaves a recorded Prometheus answering on 9090+offset; 'down' stops it by PID."""
    state, offset = tmp_path / "state", free_offset()
    try:
        up = _harness(state, offset, "up", "--monitoring", timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"prometheus http://127.0.0.1:{prometheus_port(offset)}" in " ".join(up.stdout.split())
        record = StateFile(state / "prometheus.json").load()["prometheus"]
        assert is_running(record)
        ready = httpx.get(f"http://127.0.0.1:{prometheus_port(offset)}/-/ready", timeout=5.0, trust_env=False)
        assert ready.status_code == 200
    finally:
        down = _harness(state, offset, "down", timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "prometheus" in down.stdout
    assert not is_running(record)
    assert not StateFile(state / "prometheus.json").load()
