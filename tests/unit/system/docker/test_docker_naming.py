"""Container plans without an engine: names, labels, environment and the configuration fingerprint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from system.docker.plan import (
    LABEL_CONFIG,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_STATE,
    LABEL_TOPOLOGY,
    ContainerPlan,
    container_name,
    label_filter,
    plan_container,
    service_environment,
    state_labels,
)

STATE = Path("/srv/run-1/.harness")


@pytest.fixture
def topology() -> Topology:
    return load_topology(DEFAULT_TOPOLOGY).with_port_offset(100)


def plan(topology: Topology, service: str, **kwargs: object) -> ContainerPlan:
    options: dict[str, object] = {"state_dir": STATE, "port_offset": 100, "python": "python3", "startup_timeout_s": 30.0}
    options.update(kwargs)
    return plan_container(topology, topology.service(service), **options)  # type: ignore[arg-type]


def test_container_name_joins_topology_service_and_offset() -> None:
    """A name reads prefix_topology_service_offset, underscores separating parts that contain dashes."""
    assert container_name("tsubame-reference", "vector-db", 5000) == "rag-chaos_tsubame-reference_vector-db_5000"


def test_container_name_makes_any_topology_name_docker_safe() -> None:
    """Spaces, capitals and symbols in a topology's name become dashes, so the engine accepts the name."""
    assert container_name("My Shop/Bot!", "gateway", 0) == "rag-chaos_my-shop-bot_gateway_0"
    assert container_name("---", "gateway", 0) == "rag-chaos_topology_gateway_0"


def test_container_name_differs_between_port_offsets() -> None:
    """Two runs on different port offsets never fight over a container name."""
    assert container_name("t", "llm", 0) != container_name("t", "llm", 100)


def test_state_labels_select_one_state_directory() -> None:
    """The selecting labels are the managed marker and the state directory, as one engine filter."""
    labels = state_labels(STATE)
    assert labels == {LABEL_MANAGED: "1", LABEL_STATE: str(STATE)}
    assert label_filter(labels) == {"label": [f"{LABEL_MANAGED}=1", f"{LABEL_STATE}={STATE}"]}


def test_service_environment_fills_placeholders_and_points_edges_at_callees(topology: Topology) -> None:
    """HOST/PORT come from the shifted topology and each edge variable names the callee's address."""
    env = service_environment(topology, topology.service("gateway"), "python3")
    assert env["HOST"] == "127.0.0.1" and env["PORT"] == "8100"
    assert env["VECTORDB_URL"] == "http://127.0.0.1:8101"
    assert env["LLM_URL"] == "http://127.0.0.1:8102"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_service_environment_uses_routes_and_lets_overrides_win(topology: Topology) -> None:
    """A route sends the caller through its proxy, and an override replaces any computed value."""
    env = service_environment(
        topology,
        topology.service("gateway"),
        "python3",
        routes={"gateway-to-vector-db": "127.0.0.1:21101"},
        overrides={"gateway": {"PORT": "9999", "GATEWAY_SEED": "7"}, "llm": {"IGNORED": "1"}},
    )
    assert env["VECTORDB_URL"] == "http://127.0.0.1:21101"
    assert env["LLM_URL"] == "http://127.0.0.1:8102"
    assert env["PORT"] == "9999" and env["GATEWAY_SEED"] == "7"
    assert "IGNORED" not in env


def test_service_environment_leaves_the_host_environment_out(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unlike a local process, a container does not inherit the harness's own variables."""
    monkeypatch.setenv("HARNESS_SECRET_FOR_TEST", "x")
    env = service_environment(topology, topology.service("vector-db"), "python3")
    assert "HARNESS_SECRET_FOR_TEST" not in env and "PATH" not in env
    assert set(env) == {"PYTHONUNBUFFERED", "HOST", "PORT"}


def test_plan_container_runs_the_images_python_with_our_labels(topology: Topology) -> None:
    """{python} becomes the image's interpreter, and the labels name harness, topology, service and state dir."""
    p = plan(topology, "llm")
    assert p.command == ("python3", "-m", "system_under_test.llm")
    assert p.image == "rag-chaos/reference:latest"
    assert p.name == "rag-chaos_tsubame-reference_llm_100"
    assert p.port == 8102
    assert p.startup_url == "http://127.0.0.1:8102/health/startup"
    assert p.labels[LABEL_MANAGED] == "1"
    assert p.labels[LABEL_STATE] == str(STATE)
    assert p.labels[LABEL_SERVICE] == "llm"
    assert p.labels[LABEL_TOPOLOGY] == "tsubame-reference"


def test_plan_container_takes_the_shorter_startup_timeout(topology: Topology) -> None:
    """The harness-wide startup timeout caps the service's own."""
    assert plan(topology, "llm", startup_timeout_s=5.0).startup_timeout_s == 5.0
    assert plan(topology, "llm", startup_timeout_s=500.0).startup_timeout_s == 30.0


def test_plan_container_fingerprint_changes_with_environment_only(topology: Topology) -> None:
    """The config label is stable for the same plan and changes when the environment does."""
    first, again = plan(topology, "llm"), plan(topology, "llm")
    changed = plan(topology, "llm", overrides={"llm": {"LOG_LEVEL": "WARNING"}})
    assert first.config == again.config == first.labels[LABEL_CONFIG]
    assert changed.config != first.config


def test_plan_container_refuses_a_service_without_docker_section(topology: Topology) -> None:
    """A service with no image cannot run as a container; the error names the service in the topology file."""
    services = dict(topology.services)
    services["llm"] = replace(services["llm"], docker=None)
    bare = replace(topology, services=services)
    with pytest.raises(ConfigError, match="services.llm: no 'docker' section"):
        plan(bare, "llm")
