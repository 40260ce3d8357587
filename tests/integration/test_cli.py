"""The harness command line as users run it: real subprocesses, real services, real Toxiproxy.

Covers the exit-code contract (0 ok, 2 bad input, 3 infrastructure), and the promise that faults
never outlive a run: after the harness is SIGKILLed while holding a latency toxic and a paused
service, the next ``harness up`` cleans both and ``harness down`` leaves nothing running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.ports import free_port_offset
from core.processes import ProcessRecord, is_paused, is_running
from core.settings import PROJECT_ROOT
from core.state import StateFile
from core.topology import load_topology
from faults.toxiproxy_server import api_port
from tests.integration.chaos.self_chaos import RunPorts, listening
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Cli:
    def __init__(self, state_dir: Path, offset: int) -> None:
        self.state_dir, self.offset = state_dir, offset
        self.env = {**os.environ, "HARNESS_STATE_DIR": str(state_dir)}

    def args(self, *words: str) -> list[str]:
        command, *rest = words
        return [sys.executable, str(PROJECT_ROOT / "harness.py"), command, "--port-offset", str(self.offset), *rest]

    def run(self, *words: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.args(*words), env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)

    def records(self) -> dict[str, ProcessRecord]:
        return {**StateFile(self.state_dir / "state.json").load(), **StateFile(self.state_dir / "toxiproxy.json").load()}

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port + self.offset}"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    offset = free_port_offset(load_topology(), start=10_500, stop=11_000)
    tool = Cli(tmp_path_factory.mktemp("cli-state"), offset)
    try:
        yield tool
    finally:
        tool.run("down")


def test_cli_up_starts_everything_and_reports_ready(cli: Cli) -> None:
    """'harness up' exits 0, prints the entry address and leaves the system answering in normal mode."""
    result = cli.run("up")
    assert result.returncode == 0, result.stderr
    assert f"ready: POST {cli.url(8000)}/chat" in result.stdout
    status = httpx.get(cli.url(8000) + "/status", timeout=5, trust_env=False).json()
    assert status["mode"] == "normal"
    assert set(cli.records()) == {"vector-db", "llm", "gateway", "toxiproxy"}


def test_cli_fault_rejects_bad_input_with_exit_2_and_one_line(cli: Cli) -> None:
    """Unknown kinds, bad parameters and unknown targets exit 2 with one line and no traceback."""
    for spec, fragment in [
        ("bogus:vector-db", "'kind' is unknown"),
        ("latency:vector-db:latency_ms=-1", "'latency_ms'"),
        ("slicer:vector-db:average_size=0", "'average_size'"),
        ("reset_peer:llm:probability=1.5", "'probability'"),
        ("latency:nowhere:latency_ms=5", "'target'"),
        ("kill:nowhere", "'target'"),
    ]:
        result = cli.run("fault", spec)
        assert result.returncode == 2, (spec, result.stdout, result.stderr)
        assert fragment in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    proxies = httpx.get(f"http://127.0.0.1:{api_port(cli.offset)}/proxies", timeout=5, trust_env=False).json()
    assert all(not p["toxics"] for p in proxies.values()), "a refused fault must send nothing"


def test_cli_fault_holds_then_reverts(cli: Cli) -> None:
    """'harness fault ... --duration' adds the toxic while it holds and removes it when it ends."""
    result = cli.run("fault", "latency:vector-db:latency_ms=200", "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert "fault_injected: latency on vector-db" in result.stdout
    assert "fault_reverted: latency on vector-db" in result.stdout
    proxies = httpx.get(f"http://127.0.0.1:{api_port(cli.offset)}/proxies", timeout=5, trust_env=False).json()
    assert all(not p["toxics"] for p in proxies.values())


def test_cli_sigkilled_harness_leaves_faults_that_the_next_up_cleans(cli: Cli) -> None:
    """SIGKILL while a latency toxic and a paused service are held; the next 'up' removes both."""
    holder = subprocess.Popen(cli.args("fault", "latency:vector-db:latency_ms=300", "pause:llm"), env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    out = holder.stdout
    assert out is not None
    try:
        wait_until(lambda: "holding" in (out.readline() if holder.poll() is None else "exit"), 30,
                   "the faults to be held")
        assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()
    api = f"http://127.0.0.1:{api_port(cli.offset)}"
    proxies = httpx.get(api + "/proxies", timeout=5, trust_env=False).json()
    assert proxies["gateway-to-vector-db"]["toxics"], "the killed harness could not revert its toxic"
    assert is_paused(cli.records()["llm"])

    result = cli.run("up")
    assert result.returncode == 0, result.stderr
    assert "cleaned:" in result.stdout
    proxies = httpx.get(api + "/proxies", timeout=5, trust_env=False).json()
    assert all(not p["toxics"] and p["enabled"] for p in proxies.values())
    assert not any(is_paused(r) for r in cli.records().values())
    wait_until(lambda: httpx.get(cli.url(8000) + "/status", timeout=5, trust_env=False).json()["mode"] == "normal",
               30, "normal mode after the cleanup")


def test_cli_bad_topology_exits_2_naming_the_line(cli: Cli, tmp_path: Path) -> None:
    """A malformed topology file is refused with file:line and exit 2 before anything starts."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nentry: a\nservices:\n  a:\n    port: many\n    command: [x]\n")
    result = cli.run("up", "--topology", str(bad))
    assert result.returncode == 2
    assert f"{bad}:5:" in result.stderr and "port must be an integer" in result.stderr


def test_cli_down_stops_every_process_it_started(cli: Cli) -> None:
    """'harness down' stops the services and Toxiproxy by PID; none of the recorded processes survive."""
    records = cli.records()
    assert records
    result = cli.run("down")
    assert result.returncode == 0, result.stderr
    assert not any(is_running(r) for r in records.values())
    assert not cli.records()


def test_cli_up_with_a_taken_port_exits_3(cli: Cli) -> None:
    """When a service's port is held by another program, 'up' exits 3 naming the port, and cleans up."""
    with socket.socket() as blocker:  # closed even when the bind fails, so no socket leaks into later tests
        blocker.bind(("127.0.0.1", 8001 + cli.offset))
        blocker.listen()
        result = cli.run("up")
    assert result.returncode == 3
    assert f"127.0.0.1:{8001 + cli.offset}" in result.stderr and "Traceback" not in result.stderr
    cli.run("down")
    assert not any(is_running(r) for r in cli.records().values())


def test_cli_up_whose_service_cannot_start_leaves_nothing_running(cli: Cli) -> None:
    """A gateway that refuses its settings makes 'up' exit 3 naming its log, and 'up' stops what it had
    started before it (Toxiproxy and the HTTP fault proxy were left running before this was fixed)."""
    result = cli.run("up", "--no-monitoring", "--env", "gateway:GATEWAY_VARIANT=no-such-variant")
    assert result.returncode == 3
    assert result.stderr.strip().startswith("harness: service 'gateway' did not start")
    assert str(cli.state_dir / "logs" / "gateway.log") in result.stderr
    assert listening(RunPorts.of(load_topology(), cli.offset)) == []
    assert not any(is_running(r) for r in cli.records().values())
