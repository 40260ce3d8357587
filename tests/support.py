"""Helpers shared by test modules (not fixtures): waiting on conditions and finding free ports."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from core.supervisor import port_is_free
from core.topology import Topology

T = TypeVar("T")


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
