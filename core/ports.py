"""Loopback ports: whether one is free, waiting for one to be released, and a free range for a run.

Every server the harness starts (services, Toxiproxy, the HTTP fault proxy, Prometheus) checks its
port here before starting, so a port held by something else is a clear ``PortInUseError`` rather than
a server that dies while binding. ``free_port_offset`` lets tests and benchmarks run a whole second
system beside a user's own, on ports shifted by one offset.
"""

from __future__ import annotations

import socket
import time

from .errors import InfrastructureError
from .settings import HTTP_FAULT_PROXY_PORT, PROMETHEUS_PORT, TOXIPROXY_API_PORT
from .topology import Topology


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_offset(topology: Topology, start: int = 10_000, stop: int = 10_500, step: int = 100) -> int:
    """The first port offset in ``range(start, stop, step)`` where every service and proxy port (HTTP
    fault routes included), and the Toxiproxy, HTTP fault proxy and Prometheus ports a run starts, is
    free and below the ephemeral range (32768+), so tests and benchmarks can run beside a user's system."""
    for offset in range(start, stop, step):
        shifted = topology.with_port_offset(offset)
        ports = [s.port for s in shifted.services.values()] + [e.proxy_port for e in shifted.edges]
        ports += [e.http_proxy_port for e in shifted.edges if e.http_proxy_port is not None]
        ports += [TOXIPROXY_API_PORT + offset, HTTP_FAULT_PROXY_PORT + offset, PROMETHEUS_PORT + offset]
        if max(ports) < 32768 and all(port_is_free(shifted.host, p) for p in ports):
            return offset
    raise InfrastructureError(f"no free port range for {topology.name} with offsets {start}..{stop}")


def wait_port_free(host: str, port: int, timeout_s: float) -> bool:
    """True once the port can be bound; a process killed a moment ago releases it a little after dying."""
    deadline = time.monotonic() + timeout_s
    while not port_is_free(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
