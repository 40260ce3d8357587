"""Every fault kind, held by a real ``harness fault``, survives no signal: the self-chaos test holds four
kinds at once in a scenario; this one takes each kind alone, so a kind with its own revert path (a
stream fault, a flap, a one-way partition) cannot leave itself behind unseen.

    harness up --no-monitoring              one system for the module (a port offset of its own)
    harness fault KIND:TARGET[:PARAMS]      held until "holding" is printed; the fault is then seen
                                            in the world (Toxiproxy, the fault proxy, /proc, the port)
    SIGINT / SIGTERM  -> exit 130, one line on stderr, and the world clean at once
    SIGKILL           -> the fault is still there; the next 'harness up' names it on a 'cleaned:'
                         line and the world is clean after it
    harness down                            at the end, pass or fail

HARNESS_FAULT_KINDS picks the kinds: a comma list, or ``all`` for every kind of the local backend (26
kinds, 78 interruptions, about 4 minutes). The default is one kind of each family (an HTTP fault, a
toxic, a service signal), so the test command stays short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.ports import free_port_offset, port_is_free
from core.settings import PROJECT_ROOT
from core.topology import load_topology
from faults.catalog import fault_kinds
from tests.integration.chaos.self_chaos import RunPorts, http_faults, network_faults, run_processes

# Parameters that make each kind valid and visible while held (a flap long enough to be held).
PARAMS = {
    "kill": "", "stop": "", "pause": "", "restart": "",
    "latency": "latency_ms=300", "bandwidth": "rate_kbps=10", "blackhole": "", "timeout_close": "timeout_ms=500",
    "reset_peer": "", "slow_close": "delay_ms=100", "slicer": "average_size=10", "limit_data": "bytes=1000",
    "one_way_partition": "direction=upstream", "partition": "", "flap": "down_s=1,up_s=1,duration_s=60",
    "http_error": "status=503", "rate_limit": "", "delay": "seconds=1", "first_token_delay": "seconds=5",
    "token_delay": "seconds=1", "cut_after": "events=3", "error_event": "after=2", "malformed_event": "at=2",
    "truncate": "bytes=10", "malformed_json": "", "wrong_content_type": "",
}
SERVICE_KINDS = frozenset({"kill", "stop", "pause", "restart"})
DEFAULT_KINDS = ("http_error", "latency", "pause")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def _local_kinds() -> list[str]:
    return [kind for kind, cls in fault_kinds().items() if not cls.__module__.endswith("docker_specs")]


def _chosen() -> list[str]:
    wanted = os.environ.get("HARNESS_FAULT_KINDS", "").strip()
    if wanted == "all":
        return _local_kinds()
    return [k.strip() for k in wanted.split(",") if k.strip()] if wanted else list(DEFAULT_KINDS)


def test_every_local_fault_kind_has_parameters_here() -> None:
    """A new fault kind must be added to PARAMS, or 'all' would not cover it."""
    assert sorted(_local_kinds()) == sorted(PARAMS)


@dataclass(frozen=True)
class System:
    offset: int
    state: Path
    ports: RunPorts

    def harness(self, *words: str) -> list[str]:
        return [sys.executable, str(PROJECT_ROOT / "harness.py"), words[0], *words[1:],
                "--port-offset", str(self.offset), "--state-dir", str(self.state)]

    def run(self, *words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.harness(*words), capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)

    def faults_in_world(self) -> list[str]:
        """What a user would find: toxics, disabled proxies, HTTP faults, stopped services, dead ports."""
        found = [text for text, _ in network_faults(self.ports) + http_faults(self.ports)]
        found += [f"{p.role} stopped (state {p.state})" for p in run_processes(self.ports, self.state)
                  if p.role.startswith("service ") and p.state in ("T", "t")]
        return found + [f"{name} does not listen" for name, port in self.ports.services.items()
                        if port_is_free(self.ports.host, port)]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    topology = load_topology()
    offset = free_port_offset(topology, start=7_500, stop=8_000)
    state = tmp_path_factory.mktemp("fault-kinds-state")
    running = System(offset, state, RunPorts.of(topology, offset))
    try:
        up = running.run("up", "--no-monitoring")  # Prometheus holds no fault; it only slows each 'up'
        assert up.returncode == 0, up.stderr
        yield running
    finally:
        down = running.run("down")
        assert down.returncode == 0, down.stderr


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("kind", _chosen())
def test_a_held_fault_of_each_kind_is_gone_after_any_signal(system: System, kind: str, sig: signal.Signals) -> None:
    """SIGINT/SIGTERM: exit 130 and the fault reverted; SIGKILL: the next 'harness up' cleans it."""
    if system.faults_in_world():  # a case before this one failed: clean up, so one failure stays one
        system.run("up", "--no-monitoring")
    assert not system.faults_in_world(), "the system could not be cleaned before this case"
    target = "vector-db" if kind in SERVICE_KINDS else "llm"
    text = f"{kind}:{target}" + (f":{PARAMS[kind]}" if PARAMS[kind] else "")
    # Popen as a context manager closes the pipes and reaps the child, pass or fail.
    with subprocess.Popen(system.harness("fault", text), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=PROJECT_ROOT) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            printed = []
            for line in proc.stdout:  # ends at EOF if the command fails before holding
                printed.append(line)
                if line.startswith("holding"):
                    break
            assert printed and printed[-1].startswith("holding"), "".join(printed) + proc.stderr.read()
            held = system.faults_in_world()
            if kind != "restart":  # a restart is over before "holding": nothing is held
                assert held, f"{text} is not visible while held"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    if sig is signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert system.faults_in_world() == held  # a killed harness reverts nothing: the next up must
        up = system.run("up", "--no-monitoring")
        assert up.returncode == 0, up.stderr
        cleaned = [line for line in up.stdout.splitlines() if line.startswith("cleaned:")]
        assert bool(cleaned) == bool(held), up.stdout
    else:
        assert proc.returncode == 130
        assert err.strip() == "harness: interrupted; faults reverted"
    assert not system.faults_in_world()
