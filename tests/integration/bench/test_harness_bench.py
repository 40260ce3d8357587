"""``harness bench --quick`` as users and CI run it: a subprocess on free ports that produces every figure.

Checks that the run completes and that bench.json, the printed table and the HTML page are all there
with a number (or an n/a reason) for every figure; never the values, which belong to the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.figures import missing_numbers
from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import load_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXPECTED_GROUPS = {"toxiproxy hop", "http fault proxy", "fast fail", "time to degrade", "time to recover", "capacity",
                   "harness cost", "scaling", "alerting"}


def test_quick_bench_produces_every_figure(tmp_path: Path) -> None:
    """A quick bench exits 0, prints the table, and writes bench.json with a number for every figure plus the page."""
    offset = free_port_offset(load_topology(), start=8_000, stop=9_000)
    out = tmp_path / "bench"
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "bench", "--quick", "--port-offset", str(offset),
               "--state-dir", str(tmp_path / "state"), "--out", str(out)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    document = json.loads((out / "bench.json").read_text())
    figures = document["figures"]
    assert {f["group"] for f in figures} == EXPECTED_GROUPS
    assert missing_numbers(document) == []
    assert all(f["na"] is None for f in figures), [f["key"] for f in figures if f["na"]]
    assert all(isinstance(f["value"], int | float) for f in figures)
    keys = {f["key"] for f in figures}
    for dependency in ("vector-db", "llm"):
        assert f"fast_fail.{dependency}" in keys
        for fault in ("kill", "partition", "blackhole"):
            assert {f"degrade.{fault}.{dependency}.answer", f"degrade.{fault}.{dependency}.breaker",
                    f"recover.{fault}.{dependency}"} <= keys
    assert {"capacity.normal", "capacity.static-only", "capacity.locust", "cost.observer_cpu",
            "cost.scenario_overhead", "cost.suite_wall", "scaling.workers_4"} <= keys

    assert "figure" in result.stdout and "== time to recover ==" in result.stdout
    page = (out / "index.html").read_text()
    assert "<table>" in page and "time to degrade" in page
