"""HTTP faults from the command line, as users run it: real subprocesses, services, Toxiproxy and fault proxy.

The promise that faults never outlive a run, for the HTTP layer: ``harness fault`` reverts its HTTP
fault on SIGTERM and Ctrl-C; after it is SIGKILLed the next ``harness up`` finds and removes the rule;
``harness down`` stops the fault proxy by PID. Bad input exits 2 with one line before anything starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.ports import free_port_offset, port_is_free
from core.processes import ProcessRecord, is_running
from core.settings import PROJECT_ROOT
from core.state import StateFile
from core.topology import load_topology
from faults.http.lifecycle import SERVICE_NAME, STATE_FILE, control_port
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Cli:
    def __init__(self, state_dir: Path, offset: int) -> None:
        self.state_dir, self.offset = state_dir, offset
        self.env = {**os.environ, "HARNESS_STATE_DIR": str(state_dir)}
        self.control = f"http://127.0.0.1:{control_port(offset)}"

    def args(self, *words: str) -> list[str]:
        command, *rest = words
        return [sys.executable, str(PROJECT_ROOT / "harness.py"), command, "--port-offset", str(self.offset), *rest]

    def run(self, *words: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.args(*words), env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)

    def proxy_record(self) -> ProcessRecord | None:
        return StateFile(self.state_dir / STATE_FILE).load().get(SERVICE_NAME)

    def faults(self) -> dict[str, list[str]]:
        """Route -> the kinds of its faults, from the proxy's control API."""
        routes = httpx.get(self.control + "/routes", timeout=5, trust_env=False).json()
        return {r["name"]: [f["kind"] for f in r["faults"]] for r in routes}

    def holding(self, *faults: str) -> subprocess.Popen[str]:
        """``harness fault`` started in the background, once it says it holds its faults."""
        holder = subprocess.Popen(self.args("fault", *faults), env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
        out = holder.stdout
        assert out is not None
        wait_until(lambda: "holding" in (out.readline() if holder.poll() is None else "exit"), 30,
                   "the faults to be held")
        assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
        return holder


def finish(holder: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for (or kill) a background ``harness fault``; its remaining stdout and stderr."""
    try:
        out, err = holder.communicate(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    return out, err


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    offset = free_port_offset(load_topology(), start=4_500, stop=5_000)
    tool = Cli(tmp_path_factory.mktemp("http-cli-state"), offset)
    try:
        yield tool
    finally:
        tool.run("down")


def test_http_cli_bad_input_exits_2_with_one_line_and_starts_nothing(cli: Cli) -> None:
    """A bad format, an unknown edge or a bad regex: exit 2, one line, no process and no state."""
    for spec, fragment in [
        ("rate_limit:llm:retry_after_format=weeks", "'retry_after_format'"),
        ("http_error:nowhere:status=503", "'target'"),
        ("http_error:llm:status=503,body=(", "'body'"),
        ("http_error:llm:status=700", "'status'"),
    ]:
        result = cli.run("fault", spec)
        assert result.returncode == 2, (spec, result.stdout, result.stderr)
        assert fragment in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert cli.proxy_record() is None and not (cli.state_dir / "state.json").exists()
    assert port_is_free("127.0.0.1", control_port(cli.offset))


def test_http_cli_up_starts_the_fault_proxy_and_status_lists_its_routes(cli: Cli) -> None:
    """'harness up' starts the fault proxy (recorded by PID); 'harness status' shows it and each route."""
    result = cli.run("up")
    assert result.returncode == 0, result.stderr
    record = cli.proxy_record()
    assert record is not None and is_running(record)
    status = cli.run("status")
    assert status.returncode == 0, status.stderr
    assert f"http-fault-proxy  {cli.control}" in status.stdout and f"pid {record.pid}" in status.stdout
    assert "route gateway-to-llm" in status.stdout and "route gateway-to-vector-db" in status.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_http_cli_fault_is_shown_by_status_and_reverted_on_signal(cli: Cli, sig: signal.Signals) -> None:
    """While 'harness fault' holds an HTTP fault, status lists it; SIGTERM or Ctrl-C reverts it."""
    holder = cli.holding("http_error:llm:status=503,probability=0.5")
    try:
        assert cli.faults()["gateway-to-llm"] == ["http_error"]
        status = cli.run("status").stdout
        assert "http_error(status=503" in status and "p=0.5" in status
    finally:
        holder.send_signal(sig)
        out, err = finish(holder)
    assert holder.returncode == 130, err
    assert "fault_reverted: http_error on llm" in out
    assert cli.faults() == {"gateway-to-llm": [], "gateway-to-vector-db": []}


def test_http_cli_sigkilled_fault_is_removed_by_the_next_up(cli: Cli) -> None:
    """SIGKILL while an HTTP fault is held leaves the rule; the next 'harness up' finds and removes it."""
    holder = cli.holding("http_error:llm:status=503", "--duration", "60")
    holder.send_signal(signal.SIGKILL)
    finish(holder)
    assert cli.faults()["gateway-to-llm"] == ["http_error"], "the killed harness could not revert its fault"
    result = cli.run("up")
    assert result.returncode == 0, result.stderr
    assert "cleaned: removed stale HTTP fault harness-http_error-" in result.stdout
    assert cli.faults() == {"gateway-to-llm": [], "gateway-to-vector-db": []}


def test_http_cli_down_stops_the_fault_proxy_by_pid(cli: Cli) -> None:
    """'harness down' stops the fault proxy process and forgets it; its control port is free again."""
    record = cli.proxy_record()
    assert record is not None and is_running(record)
    result = cli.run("down")
    assert result.returncode == 0, result.stderr
    assert "http-fault-proxy" in result.stdout
    assert not is_running(record) and cli.proxy_record() is None
    assert port_is_free("127.0.0.1", control_port(cli.offset))
