"""Service faults on real local processes, seen from the gateway's side (/chat modes and /status)."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx
import pytest

from core.journal import Journal
from core.processes import is_paused, wait_gone
from faults.service import Kill, Pause, Restart, ServiceFaultInjector, Stop
from faults.session import FaultSession
from system.local.backend import LocalControl
from system.local.supervisor import LocalSupervisor
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How much does it cost to reissue a lost Tsubame Card?"


def chat(system: LocalSupervisor) -> dict[str, Any]:
    response = httpx.post(
        system.address("gateway") + "/chat",
        json={"message": QUESTION, "user_id": "faults"},
        headers={"Accept-Language": "en"},
        timeout=40.0,
        trust_env=False,
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def session(system: LocalSupervisor) -> FaultSession:
    injector = ServiceFaultInjector(LocalControl(system), set(system.topology.services))
    return FaultSession([injector], Journal())


def wait_normal(system: LocalSupervisor) -> None:
    wait_until(lambda: chat(system)["mode"] == "normal", 20, "the gateway to answer in normal mode", 0.2)


@pytest.fixture(autouse=True)
def starts_normal(system: LocalSupervisor) -> None:
    """Each test starts from a normal system, whatever the previous one left."""
    system.start_all()
    wait_normal(system)


def test_process_kill_degrades_and_revert_restarts(system: LocalSupervisor) -> None:
    """Killing vector-db gives degraded-no-context; the session's revert starts it again."""
    before = system.running()["vector-db"].pid
    with session(system) as faults:
        faults.inject(Kill("vector-db"))
        assert "vector-db" not in system.running()
        assert chat(system)["mode"] == "degraded-no-context"
    assert system.running()["vector-db"].pid != before
    wait_normal(system)


def test_process_pause_hangs_until_timeout_then_resume_recovers(system: LocalSupervisor) -> None:
    """A paused vector-db (hung, port still open) degrades requests after its timeout; resume recovers."""
    with session(system) as faults:
        faults.inject(Pause("vector-db"))
        assert is_paused(system.running()["vector-db"])
        body = chat(system)
        assert body["mode"] == "degraded-no-context"
    assert not is_paused(system.running()["vector-db"])
    wait_normal(system)


def test_process_stop_llm_serves_cache_only_and_revert_restarts(system: LocalSupervisor) -> None:
    """A gracefully stopped LLM gives degraded-cache-only; revert brings it back."""
    with session(system) as faults:
        faults.inject(Stop("llm", grace_s=5))
        assert chat(system)["mode"] == "degraded-cache-only"
    wait_normal(system)


def test_process_restart_gives_a_new_process_and_normal_mode(system: LocalSupervisor) -> None:
    """Restart replaces the process and waits for its startup probe, so the system is normal again."""
    before = system.running()["llm"].pid
    with session(system) as faults:
        faults.inject(Restart("llm", grace_s=5))
        assert system.running()["llm"].pid != before
    wait_normal(system)


def test_process_stale_faults_from_a_crashed_run_are_cleaned(system: LocalSupervisor) -> None:
    """A paused and a dead service left behind (no revert ran) are resumed and restarted by clean_stale."""
    os.killpg(system.running()["vector-db"].pid, signal.SIGSTOP)
    llm = system.running()["llm"]
    os.kill(llm.pid, signal.SIGKILL)
    assert wait_gone(llm, 5.0)
    # A new control knows only what the state file and /proc say, as after a crash of the harness.
    actions = LocalControl(system).clean_stale()
    assert sorted(actions) == ["restarted dead service llm", "resumed paused service vector-db"]
    assert not is_paused(system.running()["vector-db"])
    assert "llm" in system.running()
    wait_normal(system)
