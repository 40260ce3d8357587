"""The reference chatbot as three containers on the real Docker engine, broken through the same fault
injector as local processes: kill, pause, restart, recreate, and clean-up after a crashed run.

The tests run in file order on one system (module fixture); each one leaves the system normal again.
Nothing here is mocked: the engine is the one scripts/setup.sh starts, the image its reference image.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.errors import DockerError
from core.ports import free_port_offset
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.docker_specs import ContainerFaultInjector, Recreate
from faults.service import Kill, Pause, Restart, ServiceFaultInjector
from system.docker.containers import DockerBackend, StaleAction
from system.docker.plan import LABEL_MANAGED, LABEL_SERVICE, LABEL_STATE

from tests.support import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

QUESTION = "How much does it cost to reissue a lost Tsubame Card?"
REQUEST_DEADLINE_S = 4.0
# Shrunk so breakers go open -> half-open -> closed and a hung LLM is given up on within seconds.
OVERRIDES = {
    "gateway": {
        "GATEWAY_BREAKER_RESET_TIMEOUT_S": "2",
        "GATEWAY_PROBE_INTERVAL_S": "0.2",
        "GATEWAY_LLM_TIMEOUT_S": "1.5",
        "GATEWAY_REQUEST_DEADLINE_S": str(REQUEST_DEADLINE_S),
        "GATEWAY_SEED": "7",
    },
    "llm": {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"},
}


def make_backend(settings: HarnessSettings, offset: int) -> DockerBackend:
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(offset)
    return DockerBackend(topology, settings, overrides=OVERRIDES)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerBackend]:
    """The reference system as containers, removed again (by label) after the module."""
    # Offsets in this window keep services at 13000+ and proxy ports below the ephemeral range, away
    # from the local-process suite's default window.
    offset = free_port_offset(load_topology(DEFAULT_TOPOLOGY), start=5_000, stop=6_500)
    state_dir: Path = tmp_path_factory.mktemp("docker-state")
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=state_dir)
    backend = make_backend(settings, offset)
    try:
        backend.start_all()
    except DockerError as exc:
        backend.close()
        pytest.fail(f"{exc} (or deselect these tests with -m 'not docker')")
    try:
        yield backend
    finally:
        backend.stop_all()
        backend.close()


def chat(system: DockerBackend, message: str = QUESTION) -> dict[str, Any]:
    response = httpx.post(
        system.address("gateway") + "/chat",
        json={"message": message, "user_id": "docker-it"},
        headers={"Accept-Language": "en"},
        timeout=REQUEST_DEADLINE_S + 10,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def status(system: DockerBackend) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(system.address("gateway") + "/status", timeout=5.0, trust_env=False).json()
    return body


def back_to_normal(system: DockerBackend) -> dict[str, Any]:
    """Wait (sending traffic) until a chat answers normally and every breaker is closed."""

    def normal() -> dict[str, Any] | None:
        answer = chat(system)
        current = status(system)
        breakers = {d["breaker"] for d in current["dependencies"].values()}
        return current if answer["mode"] == "normal" and current["mode"] == "normal" and breakers == {"closed"} else None

    return wait_until(normal, 30, "normal mode with every breaker closed", interval_s=0.2)


def injector(system: DockerBackend) -> ServiceFaultInjector:
    return ServiceFaultInjector(system, set(system.topology.services))


def test_docker_backend_runs_each_service_in_a_labelled_host_network_container(system: DockerBackend) -> None:
    """Every service runs in its own container on the host network, labelled with our state dir, and answers normally."""
    for name in system.topology.services:
        info = system.inspect(name)
        assert info is not None and info.status == "running"
        assert info.network_mode == "host"
        assert info.labels[LABEL_MANAGED] == "1"
        assert info.labels[LABEL_SERVICE] == name
        assert info.labels[LABEL_STATE] == str(system.settings.state_dir)
        assert info.name.endswith(f"_{name}_{system.settings.port_offset}")
    assert sorted(system.running()) == sorted(system.topology.services)
    assert chat(system)["mode"] == "normal"


def test_docker_kill_vectordb_degrades_to_no_context_then_recovers(system: DockerBackend) -> None:
    """SIGKILL of the vector-db container gives degraded-no-context in answers and /status; reverting restarts it."""
    handle = injector(system).inject(Kill("vector-db"))
    assert not system.is_running("vector-db")
    body = chat(system)
    assert body["mode"] == "degraded-no-context"
    assert body["notice"] and body["sources"] == []
    seen = wait_until(
        lambda: (s := status(system))["mode"] == "degraded-no-context" and not s["dependencies"]["vector-db"]["healthy"] and s,
        10,
        "/status to report vector-db down",
    )
    assert seen["dependencies"]["llm"]["healthy"]
    handle.revert()
    assert system.is_running("vector-db")
    back_to_normal(system)


def test_docker_pause_llm_degrades_within_the_deadline_then_recovers(system: DockerBackend) -> None:
    """A frozen LLM container makes answers degraded-cache-only within the request deadline; unpausing restores normal."""
    handle = injector(system).inject(Pause("llm"))
    assert system.is_paused("llm") and system.is_running("llm")
    started = time.monotonic()
    body = chat(system, "Can I bring a surfboard on the night bus to the airport?")
    elapsed = time.monotonic() - started
    assert body["mode"] == "degraded-cache-only"
    assert elapsed < REQUEST_DEADLINE_S + 1.0, f"the answer took {elapsed:.1f}s"
    handle.revert()
    assert not system.is_paused("llm")
    back_to_normal(system)


def test_docker_restart_keeps_the_container_and_recovers(system: DockerBackend) -> None:
    """Restart stops and starts the same container (same id, new start time) and the system returns to normal."""
    before = system.inspect("vector-db")
    assert before is not None
    handle = injector(system).inject(Restart("vector-db", grace_s=2))
    after = system.inspect("vector-db")
    assert after is not None and after.status == "running"
    assert after.id == before.id
    assert after.started_at != before.started_at
    handle.revert()
    back_to_normal(system)


def test_docker_recreate_replaces_the_container_and_recovers(system: DockerBackend) -> None:
    """Recreate removes the container and runs a new one under the same name; the system returns to normal."""
    before = system.inspect("llm")
    assert before is not None
    handle = ContainerFaultInjector(system, set(system.topology.services)).inject(Recreate("llm", grace_s=2))
    after = system.inspect("llm")
    assert after is not None and after.status == "running"
    assert after.name == before.name and after.id != before.id
    handle.revert()
    back_to_normal(system)


def test_docker_clean_stale_unpauses_and_restarts_what_a_crashed_run_left(system: DockerBackend) -> None:
    """A new backend's clean_stale unpauses a container left paused and restarts one left killed."""
    system.pause("llm")
    system.kill("vector-db")
    survivor = make_backend(system.settings, system.settings.port_offset)  # as after a crash: a new process
    try:
        actions = survivor.clean_stale()
        assert not survivor.is_paused("llm") and survivor.is_running("llm")
        assert survivor.is_running("vector-db")
    finally:
        survivor.close()
    assert sorted(actions, key=lambda a: a.service) == [
        StaleAction("llm", system.plan("llm").name, "unpaused"),
        StaleAction("vector-db", system.plan("vector-db").name, "restarted"),
    ]
    back_to_normal(system)


def test_docker_clean_stale_removes_containers_with_another_configuration(system: DockerBackend) -> None:
    """A container whose environment no longer matches the plan is removed; current ones are kept."""
    changed = {**OVERRIDES, "llm": {**OVERRIDES["llm"], "LOG_LEVEL": "WARNING"}}
    other = DockerBackend(system.topology, system.settings, overrides=changed)
    try:
        actions = other.clean_stale()
    finally:
        other.close()
    assert actions == [StaleAction("llm", system.plan("llm").name, "removed")]
    assert system.inspect("llm") is None
    assert system.start_all() == ["llm"]
    back_to_normal(system)


def test_docker_stop_all_removes_every_container_and_keeps_their_logs(system: DockerBackend) -> None:
    """stop_all removes this run's containers (callers first) and leaves each one's output in logs/."""
    stopped = system.stop_all()
    assert stopped == ["gateway", "llm", "vector-db"]
    assert system.containers() == []
    assert all(system.inspect(name) is None for name in system.topology.services)
    logs = {path.stem.rsplit("-", 1)[0] for path in system.settings.log_dir.glob("*.log")}
    assert set(system.topology.services) <= logs
    assert system.stop_all() == []
