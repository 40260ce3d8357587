"""--topology: the same features against a second, independently configured system."""

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
from scenarios.features import plan

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECOND = PROJECT_ROOT / "docs" / "examples" / "second-system.yaml"


def test_smoke_features_pass_against_the_second_system(tmp_path: Path) -> None:
    """Other names, ports and settings: the @smoke scenarios pass, and faults hit the renamed services."""
    offset = free_port_offset(load_topology(SECOND), start=3_000, stop=4_000)
    out = tmp_path / "run"
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", "--topology", str(SECOND), "--tags", "smoke",
               "--port-offset", str(offset), "--seed", "17", "--out", str(out)]
    result = subprocess.run(command, env={**os.environ, "HARNESS_STATE_DIR": str(tmp_path / "state")},
                            capture_output=True, text=True, timeout=900, cwd=PROJECT_ROOT)
    data = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    failed = [(s["name"], s["message"]) for s in data.get("scenarios", []) if s["outcome"] != "passed"]
    assert result.returncode == 0, failed or result.stdout[-2000:] + result.stderr[-2000:]
    assert data["run"]["topology"] == str(SECOND)
    assert len(data["scenarios"]) == len(plan([PROJECT_ROOT / "features"], "smoke")) >= 4
    targets = {f["target"] for s in data["scenarios"] for f in s["faults"]}
    # "vector-db" and "llm" in the features reached the services named search and generator
    assert targets == {"search", "generator"}, targets
