"""The local supervisor with real processes: a service is on record from the moment it exists, so a
harness killed while it starts one never leaves an unrecorded process behind."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import httpx
import pytest

from core import daemons
from core.errors import InfrastructureError, ServiceStartError
from core.processes import is_running, wait_gone
from core.settings import HarnessSettings
from core.topology import ModeSource, Service, Topology
from system.local.supervisor import LocalSupervisor
from tests.support import wait_until

pytestmark = pytest.mark.integration

# Sleeps for ``delay`` seconds, then answers 200 on every path: a service slow to pass its startup probe.
SLOW_SERVER = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def supervisor(tmp_path: Path, delay_s: float, startup_timeout_s: float) -> LocalSupervisor:
    port = free_port()
    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    service = Service("slow", port, (sys.executable, str(script), str(port), str(delay_s)),
                      startup_timeout_s=startup_timeout_s)
    topology = Topology("one slow service", "127.0.0.1", "slow", {"slow": service}, (), ModeSource(),
                        tmp_path / "topology.yaml")
    settings = HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path / "state")
    return LocalSupervisor(topology, settings)


def test_a_starting_service_is_recorded_before_its_probe_passes_and_forgotten_when_it_never_does(
        tmp_path: Path) -> None:
    """While start() waits for the probe the state file already names the process; after the timeout
    the process is stopped and the record removed."""
    system = supervisor(tmp_path, delay_s=60.0, startup_timeout_s=2.0)
    failure: list[BaseException] = []

    def start() -> None:
        try:
            system.start_all()
        except InfrastructureError as exc:
            failure.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    try:
        record = wait_until(lambda: system.state.load().get("slow"), 10.0, "the starting service's record")
        assert is_running(record)
    finally:
        starter.join(30.0)
    assert len(failure) == 1 and isinstance(failure[0], ServiceStartError)
    assert "did not pass within 2s" in str(failure[0])
    assert system.state.load() == {}
    assert wait_gone(record, 5.0)


def test_a_recorded_service_still_starting_is_waited_for_and_adopted(tmp_path: Path) -> None:
    """A service another (killed) run started and recorded is not started twice: start_all waits for
    its startup probe and keeps that very process."""
    system = supervisor(tmp_path, delay_s=1.5, startup_timeout_s=20.0)
    service = system.topology.service("slow")
    process, record = daemons.spawn("slow", service.command, service.port, tmp_path / "slow.log", InfrastructureError,
                                    on_spawn=lambda r: system.state.save({"slow": r}))
    try:
        records = system.start_all()
        assert records["slow"] == record
        assert httpx.get(f"http://127.0.0.1:{service.port}/health/startup", trust_env=False).status_code == 200
    finally:
        system.stop_all()
        daemons.reap(process)
    assert not is_running(record)
