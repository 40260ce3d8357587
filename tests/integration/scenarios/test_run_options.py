"""'harness run' options of trust: --dry-run changes nothing, --repeat measures pass rates per scenario."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.state import StateFile
from core.topology import load_topology
from faults.toxiproxy_server import api_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEADY = str(PROJECT_ROOT / "features" / "steady_state.feature")


def harness(offset: int, state: Path, *words: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), words[0], "--port-offset", str(offset), *words[1:]]
    return subprocess.run(command, env={**os.environ, "HARNESS_STATE_DIR": str(state)}, capture_output=True,
                          text=True, timeout=timeout, cwd=PROJECT_ROOT)


def world(offset: int, state: Path) -> tuple[object, object]:
    """What a run could touch: the services' PIDs and start times, and every proxy with its toxics."""
    records = {name: StateFile(state / name).load() for name in ("state.json", "toxiproxy.json")}
    proxies = httpx.get(f"http://127.0.0.1:{api_port(offset)}/proxies", timeout=5, trust_env=False).json()
    assert records["state.json"] and proxies  # the system is really up: an empty world would prove nothing
    return records, proxies


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path: Path) -> None:
    """With the system up and a fault held, --dry-run of the whole suite leaves processes, proxies and toxics as they were."""
    offset = free_port_offset(load_topology(), start=6_500, stop=7_000)
    state = tmp_path / "state"
    assert harness(offset, state, "up").returncode == 0
    try:
        with subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "harness.py"), "fault", "--port-offset", str(offset),
             "latency:vector-db:latency_ms=5", "--duration", "60"],
            env={**os.environ, "HARNESS_STATE_DIR": str(state)}, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
        ) as fault:
            try:
                assert fault.stdout is not None
                while "holding" not in fault.stdout.readline():
                    assert fault.poll() is None, "harness fault exited early"
                before = world(offset, state)
                result = harness(offset, state, "run", "--dry-run", "--out", str(tmp_path / "run"))
                assert world(offset, state) == before
            finally:
                fault.terminate()  # SIGTERM: the fault is reverted, the process exits
                fault.wait(30)
        assert result.returncode == 0, result.stderr
        assert "fault   kill on vector-db" in result.stdout and "dry run: nothing was started" in result.stdout
        assert not (tmp_path / "run").exists()
    finally:
        harness(offset, state, "down")


def test_repeat_reports_pass_rates_with_seeds_per_attempt(tmp_path: Path) -> None:
    """--repeat 2 runs the scenario twice with different recorded seeds and prints its pass rate."""
    offset = free_port_offset(load_topology(), start=7_000, stop=7_500)
    out = tmp_path / "run"
    result = harness(offset, tmp_path / "state", "run", STEADY, "--repeat", "2", "--seed", "9", "--out", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    assert [(s["attempt"], s["outcome"]) for s in data["scenarios"]] == [(1, "passed"), (2, "passed")]
    assert data["scenarios"][0]["seed"] == 9 and data["scenarios"][1]["seed"] != 9
    rate = data["pass_rates"][0]
    assert (rate["runs"], rate["passed"], rate["rate"]) == (2, 2, 1.0) and rate["ci_low"] < 1.0
    assert "--seed 9" in data["run"]["replay"] and "--repeat 2" in data["run"]["replay"]
    assert "pass rate" in result.stdout
