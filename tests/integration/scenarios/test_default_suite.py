"""The bundled resilience suite against the reference system: all of it locally, the smoke subset on
Docker containers, and one scenario with distributed Locust. These are the product's acceptance runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import load_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run(tmp_path: Path, *words: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    offset = free_port_offset(load_topology(), start=9_000, stop=10_000)
    out = tmp_path / "run"
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", "--port-offset", str(offset),
               "--out", str(out), *words]
    env = {**os.environ, "HARNESS_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return result, results


def failures(results: dict[str, object]) -> list[str]:
    scenarios = results.get("scenarios", [])
    assert isinstance(scenarios, list)
    return [f"{s['name']}: {s['outcome']}: {s['message']}" for s in scenarios if s["outcome"] != "passed"]


def test_default_suite_passes_on_the_reference_system(tmp_path: Path) -> None:
    """Every scenario of features/ passes against the reference system run as local processes."""
    result, results = run(tmp_path, "--seed", "11", timeout=1200)
    assert result.returncode == 0, "\n".join(failures(results)) or result.stdout[-3000:] + result.stderr[-3000:]
    scenarios = results["scenarios"]
    assert isinstance(scenarios, list) and len(scenarios) >= 12


@pytest.mark.docker
def test_smoke_suite_passes_on_containers(tmp_path: Path) -> None:
    """The @smoke scenarios pass with --backend docker, where kills and pauses hit containers."""
    result, results = run(tmp_path, "--backend", "docker", "--tags", "smoke", "--seed", "12", timeout=900)
    assert result.returncode == 0, "\n".join(failures(results)) or result.stdout[-3000:] + result.stderr[-3000:]
    assert results["run"]["backend"] == "docker"  # type: ignore[index]


def test_distributed_load_records_from_two_workers(tmp_path: Path) -> None:
    """--workers 2 runs a Locust master with two workers; both write the same kind of records."""
    result, results = run(tmp_path, str(PROJECT_ROOT / "features" / "steady_state.feature"), "--workers", "2",
                          timeout=300)
    assert result.returncode == 0, "\n".join(failures(results)) or result.stdout[-3000:] + result.stderr[-3000:]
    files = sorted(p.name for p in (tmp_path / "run" / "records" / "01").glob("*.jsonl"))
    assert files == ["worker-0.jsonl", "worker-1.jsonl"]
    for name in files:
        first = json.loads((tmp_path / "run" / "records" / "01" / name).read_text().splitlines()[0])
        assert first["status"] == 200 and first["mode"] == "normal" and first["worker"] == name.removesuffix(".jsonl")
