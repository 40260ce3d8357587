"""Fixtures that run the real reference system: three processes on loopback, started by the harness."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from core.settings import HarnessSettings
from core.supervisor import LocalSupervisor, port_is_free
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology

T = TypeVar("T")

# Shrunk so a test sees open -> half-open -> closed in seconds; the logic is the same as the defaults'.
FAST_GATEWAY = {
    "GATEWAY_BREAKER_RESET_TIMEOUT_S": "2",
    "GATEWAY_BREAKER_CONSECUTIVE_FAILURES": "3",
    "GATEWAY_PROBE_INTERVAL_S": "0.2",
    "GATEWAY_SEED": "7",
}
FAST_LLM = {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"}


def free_offset(topology: Topology) -> int:
    """A port offset (away from the defaults and the ephemeral range) where every port is free."""
    for offset in range(10_000, 20_000, 100):
        shifted = topology.with_port_offset(offset)
        ports = [s.port for s in shifted.services.values()] + [e.proxy_port for e in shifted.edges]
        if all(port_is_free(shifted.host, p) for p in ports) and max(ports) < 32768:
            return offset
    raise RuntimeError("no free port range for the test system")


def wait_until(probe: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSupervisor]:
    """The reference system started by the harness's own supervisor, stopped by PID afterwards."""
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_offset(base)
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
