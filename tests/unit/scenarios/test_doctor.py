"""The doctor's checks: each returns what it found or its problems, and never raises for a missing tool."""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from scenarios import doctor
from system import ManagedSystem


def test_doctor_missing_package_is_a_problem_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that cannot be found is one problem naming it and the setup script."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pybreaker" else real(name))
    check = doctor.python_packages()
    assert not check.ok and check.problems == ("python package 'pybreaker' missing: run scripts/setup.sh",)


def test_doctor_missing_toxiproxy_binary_is_a_problem_not_an_error(tmp_path: Path) -> None:
    """A configured toxiproxy-server that does not exist is reported as a problem, nothing found."""
    settings = replace(HarnessSettings.from_env({}), toxiproxy_bin=str(tmp_path / "nope"))
    check = doctor.toxiproxy(settings)
    assert check.found is None and len(check.problems) == 1 and "nope" in check.problems[0]


def test_doctor_monitoring_tools_are_checked_only_when_the_topology_turns_monitoring_on() -> None:
    """Without monitoring in the topology there is nothing to check; with it, prometheus and promtool."""
    topology = load_topology(DEFAULT_TOPOLOGY)
    settings = HarnessSettings.from_env({})
    off = replace(topology, monitoring=replace(topology.monitoring, enabled=False))
    on = replace(topology, monitoring=replace(topology.monitoring, enabled=True))
    assert doctor.monitoring_tools(off, settings) == []
    assert [c.name for c in doctor.monitoring_tools(on, settings)] == ["prometheus", "promtool"]


def test_doctor_ports_names_a_taken_port_and_its_owner(tmp_path: Path) -> None:
    """A port of the topology held by someone else is a problem naming the port and the service."""
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(23_000)
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=23_000, state_dir=tmp_path)
    gateway = topology.service("gateway").port
    with socket.socket() as held:
        held.bind((topology.host, gateway))
        held.listen()
        system = ManagedSystem(topology, settings)
        try:
            check = doctor.ports(system)
        finally:
            system.close()
    assert any(p.startswith(f"port {gateway} (gateway) is taken") for p in check.problems)
