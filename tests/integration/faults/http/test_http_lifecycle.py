"""The fault proxy's lifecycle with real processes: started, reused, stopped by PID; foreign ports refused."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.hello import QuietServer, hello_handler
from core.errors import HttpFaultProxyError
from core.ports import port_is_free
from core.processes import is_running
from core.settings import PROJECT_ROOT, HarnessSettings
from core.topology import load_topology
from faults.http.lifecycle import ProxyConfig, probe, start_proxy
from faults.http.manager import HttpFaultProxy

pytestmark = [pytest.mark.integration]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def config(tmp_path: Path, port: int) -> ProxyConfig:
    return ProxyConfig(python=sys.executable, project_root=PROJECT_ROOT, log_path=tmp_path / "proxy.log", port=port)


@contextmanager
def hello_server(port: int) -> Iterator[None]:
    server = QuietServer((HOST, port), hello_handler(b"{}", "application/json"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_lifecycle_start_reuse_and_stop_by_pid(tmp_path: Path) -> None:
    """A started proxy answers GET /version; a second start reuses it (owned only with its record); stop ends it."""
    cfg = config(tmp_path, free_port())
    proxy = start_proxy(cfg)
    try:
        assert proxy.owned and proxy.record is not None and is_running(proxy.record)
        assert proxy.version == probe(cfg.url) == "1"
        assert start_proxy(cfg, recorded=proxy.record).record == proxy.record
        assert not start_proxy(cfg).owned  # answering, but not recorded as ours: left alone
    finally:
        proxy.stop(grace_s=5)
    assert proxy.record is not None and not is_running(proxy.record)
    assert port_is_free(HOST, cfg.port) and probe(cfg.url) is None
    assert (tmp_path / "proxy.log").exists()


def test_http_lifecycle_refuses_a_port_held_by_something_else(tmp_path: Path) -> None:
    """A silent listener or another HTTP server on the control port: our error, nothing spawned."""
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind((HOST, port))
        blocker.listen()
        with pytest.raises(HttpFaultProxyError, match=f"{HOST}:{port} is not the HTTP fault proxy .no answer"):
            start_proxy(config(tmp_path, port))
    with hello_server(port):
        with pytest.raises(HttpFaultProxyError, match="is not the HTTP fault proxy"):
            start_proxy(config(tmp_path, port))
    assert not (tmp_path / "proxy.log").exists()


def test_http_lifecycle_doctor_accepts_a_free_or_own_port_and_names_a_foreign_one(tmp_path: Path) -> None:
    """control_port_problem: None when free or our proxy answers; a line naming the port otherwise."""
    topology = load_topology()
    offset = free_port() - 8475  # the control port lands on a free port; routes are not started here
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=tmp_path)
    manager = HttpFaultProxy(topology, settings)
    try:
        assert manager.control_port_problem() is None
        with hello_server(8475 + offset):
            problem = manager.control_port_problem()
        assert problem is not None and "is not the HTTP fault proxy" in problem
        proxy = start_proxy(config(tmp_path, 8475 + offset))
        try:
            assert manager.control_port_problem() is None
        finally:
            proxy.stop()
    finally:
        manager.close()
