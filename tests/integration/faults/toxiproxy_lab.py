"""A small real setup for network-fault tests: toxiproxy-server plus tiny HTTP upstreams on loopback.

    client ──> 127.0.0.1:<proxy port> ── toxiproxy-server ──> 127.0.0.1:<service port> (http.server)
           └─────────────────────────── direct ──────────────────────────────┘

The upstreams stand in for the topology's callees (vector-db, llm) on their offset ports, so the
proxies are exactly what ``harness up`` would create; one request per fresh connection
(``Connection: close``) makes every measurement independent of pooling.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.hello import QuietServer, hello_handler
from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from faults.toxiproxy import ToxiproxyClient
from faults.toxiproxy_server import RunningServer, ServerConfig, api_port, find_binary, start_server

HOST = "127.0.0.1"
BODY = b"ok"


@contextmanager
def upstream(port: int) -> Iterator[None]:
    """A threaded hello server on ``HOST:port`` for the duration of the block."""
    server = QuietServer((HOST, port), hello_handler(BODY, "text/plain"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def request_once(port: int, timeout_s: float = 2.0) -> bytes:
    """One GET on a fresh connection, read to EOF; socket errors (refused, reset, timeout) propagate."""
    with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def timed_request(port: int, timeout_s: float = 2.0) -> float:
    """Seconds one successful request takes on a fresh connection."""
    started = time.perf_counter()
    answer = request_once(port, timeout_s)
    elapsed = time.perf_counter() - started
    assert answer.endswith(BODY), answer
    return elapsed


@dataclass
class Lab:
    topology: Topology
    server: RunningServer
    client: ToxiproxyClient

    def proxy_port(self, service: str) -> int:
        return next(e.proxy_port for e in self.topology.edges if e.target == service)

    def service_port(self, service: str) -> int:
        return self.topology.service(service).port


@contextmanager
def running_lab(log_dir: Path) -> Iterator[Lab]:
    """toxiproxy-server (started by the harness's lifecycle code) and one upstream per callee."""
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base, start=10_600, stop=11_200)
    topology = base.with_port_offset(offset)
    callees = sorted({edge.target for edge in topology.edges})
    config = ServerConfig(find_binary(PROJECT_ROOT), log_dir / "toxiproxy.log", port=api_port(offset))
    with ExitStack() as upstreams:
        for callee in callees:
            upstreams.enter_context(upstream(topology.service(callee).port))
        server = start_server(config)
        try:
            with ToxiproxyClient(server.url, timeout_s=5.0) as client:
                yield Lab(topology, server, client)
        finally:
            server.stop()
