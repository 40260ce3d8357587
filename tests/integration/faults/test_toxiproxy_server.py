"""The toxiproxy-server lifecycle on loopback: start, readiness, reuse, refusal of foreign ports, stop by PID."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from core.errors import ToxiproxyError
from core.ports import free_port_offset, port_is_free
from core.processes import is_running
from core.settings import PROJECT_ROOT
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.toxiproxy_server import (
    EXPECTED_VERSION,
    ServerConfig,
    api_port,
    find_binary,
    start_server,
    stop_server,
)
from tests.integration.faults.toxiproxy_lab import HOST, upstream
from tests.support import wait_until

pytestmark = [pytest.mark.integration]


def free_api_port() -> int:
    return api_port(free_port_offset(load_topology(DEFAULT_TOPOLOGY), start=10_900, stop=11_200))


def config(tmp_path: Path, port: int, binary: Path | None = None) -> ServerConfig:
    return ServerConfig(binary or find_binary(PROJECT_ROOT), tmp_path / "toxiproxy.log", port=port, startup_timeout_s=5)


def test_toxiproxy_server_starts_answers_and_stops_by_pid(tmp_path: Path) -> None:
    """A started server answers /version with 2.12.0; stopping it ends that process and frees the port."""
    port = free_api_port()
    server = start_server(config(tmp_path, port))
    try:
        assert server.owned and server.record is not None
        assert server.version == EXPECTED_VERSION
        assert is_running(server.record)
    finally:
        server.stop()
    assert server.record is not None and not is_running(server.record)
    wait_until(lambda: port_is_free(HOST, port), 5, "the API port to be released")
    server.stop()  # idempotent
    stop_server(server.record)  # a stale record (another process's view) is a no-op


def test_toxiproxy_server_reuses_a_running_toxiproxy_without_owning_it(tmp_path: Path) -> None:
    """Starting where a Toxiproxy already answers returns it unowned; stopping that leaves it running."""
    port = free_api_port()
    first = start_server(config(tmp_path, port))
    try:
        second = start_server(config(tmp_path, port))
        assert not second.owned and second.version == EXPECTED_VERSION
        second.stop()
        assert first.record is not None and is_running(first.record)
    finally:
        first.stop()


def test_toxiproxy_server_recorded_by_a_previous_up_stays_owned(tmp_path: Path) -> None:
    """Passing the record a previous start saved adopts that server as ours, so down can stop it."""
    port = free_api_port()
    first = start_server(config(tmp_path, port))
    try:
        again = start_server(config(tmp_path, port), recorded=first.record)
        assert again.owned and again.record == first.record
    finally:
        first.stop()


def test_toxiproxy_server_refuses_a_port_held_by_an_http_server(tmp_path: Path) -> None:
    """An HTTP server that is not Toxiproxy on the API port is refused, naming the problem."""
    port = free_api_port()
    with upstream(port):
        with pytest.raises(ToxiproxyError, match="is not a Toxiproxy API"):
            start_server(config(tmp_path, port))


def test_toxiproxy_server_refuses_a_port_held_by_a_silent_socket(tmp_path: Path) -> None:
    """A bound socket that never listens (so nothing answers HTTP) is refused too."""
    port = free_api_port()
    with socket.socket() as holder:
        holder.bind((HOST, port))
        with pytest.raises(ToxiproxyError, match="does not answer HTTP"):
            start_server(config(tmp_path, port))


def test_toxiproxy_server_binary_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    """A binary that dies during start-up gives ToxiproxyError with the exit code and the log."""
    fake = tmp_path / "toxiproxy-server"
    fake.write_text("#!/bin/sh\necho 'listen: permission denied'\nexit 7\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToxiproxyError, match=r"exited with code 7.*permission denied"):
        start_server(config(tmp_path, free_api_port(), binary=fake))
