"""'harness run' end to end: exit codes, results on disk, and what Ctrl-C and SIGTERM leave behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.ports import free_port_offset, port_is_free
from core.processes import is_running
from core.settings import HTTP_FAULT_PROXY_PORT, PROJECT_ROOT, PROMETHEUS_PORT, TOXIPROXY_API_PORT
from core.state import StateFile
from core.topology import load_topology
from faults.toxiproxy_server import api_port
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILING = """\
Feature: A claim the system does not meet
  Scenario: Expecting maintenance mode without any fault
    Given the system is running in "normal" mode
    And a steady load of 2 users
    Then the mode becomes "static-only" within 1 seconds
"""

HELD = """\
Feature: A long hold under a fault
  Scenario: Latency held for a long time
    Given the system is running in "normal" mode
    And a steady load of 2 users
    When latency of 50 ms is added to "vector-db"
    And 120 seconds pass
"""


def harness(state: Path, offset: int, *words: str) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "harness.py"), words[0], "--port-offset", str(offset), *words[1:]]


def env(state: Path) -> dict[str, str]:
    return {**os.environ, "HARNESS_STATE_DIR": str(state)}


@pytest.fixture
def offset() -> int:
    return free_port_offset(load_topology(), start=11_000, stop=11_500)


def test_run_failing_assertion_exits_1_with_evidence(tmp_path: Path, offset: int) -> None:
    """A scenario whose claim is false fails (exit 1); junit.xml and results.json say expected vs observed."""
    feature = tmp_path / "claim.feature"
    feature.write_text(FAILING)
    out = tmp_path / "run"
    result = subprocess.run(harness(tmp_path / "state", offset, "run", str(feature), "--out", str(out), "--seed", "3"),
                            env=env(tmp_path / "state"), capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)
    assert result.returncode == 1, result.stdout + result.stderr
    junit = (out / "junit.xml").read_text()
    assert "<failure" in junit and "expected &lt;= 1s" in junit
    data = json.loads((out / "results.json").read_text())
    assert data["outcome"] == "failed" and data["run"]["seed"] == 3
    scenario = data["scenarios"][0]
    assert scenario["outcome"] == "failed"
    verdict = scenario["verdicts"][-1]
    assert verdict["passed"] is False and "normal" in verdict["observed"]
    assert scenario["load"] and scenario["timeline"]
    assert not StateFile(tmp_path / "state" / "state.json").load(), "a run that started the system stops it"
    assert (out / "index.html").exists(), "every run renders its report"


def test_run_unknown_step_exits_2_and_touches_nothing(tmp_path: Path, offset: int) -> None:
    """An unknown step is reported with file:line and exit 2 before any process starts."""
    feature = tmp_path / "typo.feature"
    feature.write_text(FAILING.replace("a steady load of 2 users", "a stedy load of 2 users"))
    result = subprocess.run(harness(tmp_path / "state", offset, "run", str(feature), "--out", str(tmp_path / "run")),
                            env=env(tmp_path / "state"), capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert result.returncode == 2
    assert f"{feature}:4: unknown step: And a stedy load of 2 users" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "state.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_interrupted_reverts_faults_and_writes_partial_results(tmp_path: Path, offset: int, sig: signal.Signals) -> None:
    """Interrupting a run mid-fault reverts the fault, stops load and system, and marks results interrupted."""
    feature = tmp_path / "held.feature"
    feature.write_text(HELD)
    out, state = tmp_path / "run", tmp_path / "state"
    proc = subprocess.Popen(harness(state, offset, "run", str(feature), "--out", str(out)), env=env(state),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
    stdout = proc.stdout
    assert stdout is not None
    try:
        wait_until(lambda: "120 seconds pass" in stdout.readline(), 120, "the fault to be held")
        api = f"http://127.0.0.1:{api_port(offset)}/proxies"
        proxies = httpx.get(api, timeout=5, trust_env=False).json()
        assert any(p["toxics"] for p in proxies.values())
        records = {**StateFile(state / "state.json").load()}
        proc.send_signal(sig)
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdout.close()
    data = json.loads((out / "results.json").read_text())
    assert data["outcome"] == "interrupted"
    assert data["scenarios"][0]["outcome"] == "interrupted"
    assert [e["type"] for e in data["events"]].count("fault_reverted") == 1
    assert not any(is_running(r) for r in records.values()), "the run started the system, so it stops it"
    locust = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
              if "scenarios.locust_runner" in line and str(out) in line]
    assert not locust, locust


def test_report_command_renders_a_run_and_refuses_a_non_run(tmp_path: Path) -> None:
    """'harness report' writes index.html for a run directory and exits 2 naming a missing results file."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps({"schema_version": 1, "run": {}, "outcome": "passed",
                                                      "scenarios": [], "events": []}))
    ok = subprocess.run([sys.executable, str(PROJECT_ROOT / "harness.py"), "report", str(run_dir)],
                        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert ok.returncode == 0, ok.stderr
    assert (run_dir / "index.html").read_text().startswith("<!DOCTYPE html>")
    missing = subprocess.run([sys.executable, str(PROJECT_ROOT / "harness.py"), "report", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert missing.returncode == 2
    assert "results.json" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_interrupted_while_starting_leaves_nothing_running(tmp_path: Path, offset: int, sig: signal.Signals) -> None:
    """A signal while the run is still starting its system: exit 130, every server it started is stopped,
    and results.json says the run was interrupted (not that it failed)."""
    out, state = tmp_path / "run", tmp_path / "state"
    steady = PROJECT_ROOT / "features" / "steady_state.feature"
    proc = subprocess.Popen(harness(state, offset, "run", str(steady), "--out", str(out)), env=env(state),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    try:
        # Toxiproxy is recorded first, then the fault proxy and the services start: that is start-up.
        wait_until(lambda: bool(StateFile(state / "toxiproxy.json").load()), 60, "Toxiproxy to be started")
        records = {**StateFile(state / "toxiproxy.json").load(), **StateFile(state / "http-fault-proxy.json").load(),
                   **StateFile(state / "state.json").load()}
        proc.send_signal(sig)
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records.update({**StateFile(state / "http-fault-proxy.json").load(), **StateFile(state / "state.json").load()})
    assert records, "nothing was recorded as started"
    assert not [name for name, r in records.items() if is_running(r)]
    topology = load_topology().with_port_offset(offset)
    ports = [s.port for s in topology.services.values()]
    ports += [p for e in topology.edges for p in (e.proxy_port, e.http_proxy_port) if p is not None]
    ports += [port + offset for port in (TOXIPROXY_API_PORT, HTTP_FAULT_PROXY_PORT, PROMETHEUS_PORT)]
    assert not [port for port in ports if not port_is_free("127.0.0.1", port)], "something still listens"
    assert json.loads((out / "results.json").read_text())["outcome"] == "interrupted"
