"""Shared by the monitoring integration tests: a port offset free for the system and its Prometheus."""

from __future__ import annotations

import pytest

from core.errors import InfrastructureError
from core.ports import free_port_offset, port_is_free
from core.settings import HTTP_FAULT_PROXY_PORT
from core.topology import DEFAULT_TOPOLOGY, load_topology
from monitoring.config import prometheus_port


def free_offset() -> int:
    """An offset where every port of the reference system, Toxiproxy, the fault proxy and Prometheus is free."""
    topology = load_topology(DEFAULT_TOPOLOGY)
    for start in range(10_000, 11_500, 100):
        try:
            offset = free_port_offset(topology, start=start, stop=start + 1)
        except InfrastructureError:
            continue
        if port_is_free("127.0.0.1", prometheus_port(offset)) and port_is_free("127.0.0.1", HTTP_FAULT_PROXY_PORT + offset):
            return offset
    pytest.fail("no free port offset for the system and its Prometheus")
