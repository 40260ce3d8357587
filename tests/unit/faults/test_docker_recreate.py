"""The container-only Recreate fault: validated before anything reaches the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import FaultParameterError
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.docker_specs import ContainerFaultInjector, Recreate
from faults.service import Kill
from system.docker.containers import DockerBackend


def injector(tmp_path: Path) -> ContainerFaultInjector:
    topology = load_topology(DEFAULT_TOPOLOGY)
    backend = DockerBackend(topology, HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path))
    return ContainerFaultInjector(backend, set(topology.services))


def test_recreate_grace_outside_range_is_refused() -> None:
    """A negative or huge grace period names the parameter."""
    for grace in (-1.0, 301.0):
        with pytest.raises(FaultParameterError, match="grace_s"):
            Recreate("llm", grace_s=grace).validate()


def test_recreate_describes_itself_with_its_grace() -> None:
    """The journal label says what was recreated and with which grace period."""
    assert Recreate("llm", grace_s=2).describe() == "recreate on llm (grace_s=2)"


def test_container_injector_supports_only_recreate(tmp_path: Path) -> None:
    """Kill and friends go through ServiceFaultInjector; this injector only takes Recreate."""
    inj = injector(tmp_path)
    assert inj.supports(Recreate("llm"))
    assert not inj.supports(Kill("llm"))


def test_container_injector_refuses_an_unknown_service_before_calling_the_engine(tmp_path: Path) -> None:
    """A typo in the target fails as a parameter error, with no engine needed."""
    with pytest.raises(FaultParameterError, match="'lm' is not a service"):
        injector(tmp_path).inject(Recreate("lm"))
