"""Fixtures that run the real reference system: three processes on loopback, started by the harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ports import free_port_offset
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system.local.supervisor import LocalSupervisor

# Shrunk so a test sees open -> half-open -> closed in seconds; the logic is the same as the defaults'.
FAST_GATEWAY = {
    "GATEWAY_BREAKER_RESET_TIMEOUT_S": "2",
    "GATEWAY_BREAKER_CONSECUTIVE_FAILURES": "3",
    "GATEWAY_PROBE_INTERVAL_S": "0.2",
    "GATEWAY_SEED": "7",
}
FAST_LLM = {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSupervisor]:
    """The reference system started by the harness's own supervisor, stopped by PID afterwards."""
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base)
    state_dir: Path = tmp_path_factory.mktemp("harness-state")
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=state_dir)
    supervisor = LocalSupervisor(
        base.with_port_offset(offset), settings, overrides={"gateway": FAST_GATEWAY, "llm": FAST_LLM}
    )
    supervisor.start_all()
    try:
        yield supervisor
    finally:
        supervisor.stop_all()
