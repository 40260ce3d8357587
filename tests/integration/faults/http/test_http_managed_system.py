"""HTTP faults through a real ManagedSystem: the reference system, Toxiproxy and the HTTP fault proxy.

    gateway ──> Toxiproxy 127.0.0.1:<proxy_port> ──> HTTP fault proxy :<http_proxy_port> ──> llm / vector-db

The module starts one system on a free port offset and stops it (every process by PID) afterwards;
each test reverts what it injected and the ``clean`` fixture checks no fault was left behind.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.ports import free_port_offset
from core.processes import is_running
from core.settings import HarnessSettings
from core.topology import load_topology
from faults.http.specs import HttpError
from faults.network_specs import Latency
from faults.proxies import clean_stale as clean_toxics
from system import ManagedSystem
from system.backend import BackendKind
from tests.integration.conftest import FAST_GATEWAY, FAST_LLM
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMPLETIONS = r"^/v1/chat/completions$"
ASK = {"model": "tsubame", "messages": [{"role": "user", "content": "運賃はいくらですか"}]}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedSystem]:
    base = load_topology()
    offset = free_port_offset(base, start=4_000, stop=4_500)
    state_dir: Path = tmp_path_factory.mktemp("http-system")
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=state_dir)
    managed = ManagedSystem(base.with_port_offset(offset), settings, BackendKind.LOCAL,
                            overrides={"gateway": FAST_GATEWAY, "llm": FAST_LLM})
    try:
        managed.up()
        yield managed
    finally:
        managed.down()
        managed.close()


@pytest.fixture
def clean(system: ManagedSystem) -> Iterator[ManagedSystem]:
    """The system; afterwards no HTTP fault and no toxic may remain on its routes and proxies."""
    yield system
    assert system.http_faults.clean() == [], "the test left HTTP faults behind"
    assert clean_toxics(system.client, only=[e.name for e in system.topology.edges]).empty


def chat(system: ManagedSystem, message: str) -> dict[str, Any]:
    response = httpx.post(system.entry_url() + "/chat", json={"message": message, "user_id": "http-test"},
                          timeout=15, trust_env=False)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def normal_again(system: ManagedSystem) -> bool:
    status = httpx.get(system.entry_url() + "/status", timeout=5, trust_env=False).json()
    return bool(status["mode"] == "normal" and status["dependencies"]["llm"]["breaker"] == "closed")


def test_http_system_routes_every_edge_through_the_fault_proxy(clean: ManagedSystem) -> None:
    """up() starts the proxy (recorded by PID), puts a route per edge, and Toxiproxy forwards to it."""
    record = clean.http_faults.record()
    assert record is not None and is_running(record)
    routes = clean.http_faults.routes()
    assert routes is not None and set(routes) == {"gateway-to-llm", "gateway-to-vector-db"}
    toxiproxy = {p.name: p.upstream for p in clean.client.proxies().values()}
    for edge in clean.topology.edges:
        assert routes[edge.name].listen == toxiproxy[edge.name] == f"127.0.0.1:{edge.http_proxy_port}"
        assert routes[edge.name].upstream == f"127.0.0.1:{clean.topology.service(edge.target).port}"
    assert clean.is_up()


def test_http_system_llm_fault_degrades_the_gateway_and_revert_restores_it(clean: ManagedSystem) -> None:
    """A 503 on every LLM call makes the gateway answer from its cache mode; the revert brings normal back."""
    wait_until(lambda: normal_again(clean), 30, "normal mode before the fault")
    assert chat(clean, "子ども運賃はいくらですか")["mode"] == "normal"
    injector = clean.http_faults.injector()
    handle = injector.inject(HttpError("llm", status=503, method="POST", path=COMPLETIONS, seed=1))
    try:
        answer = chat(clean, "自転車は持ち込めますか")
        assert answer["mode"] == "degraded-cache-only" and answer["notice"]
        metrics = clean.http_faults.client.metrics()
        assert 'http_fault_proxy_faults_applied_total{route="gateway-to-llm",kind="http_error"}' in metrics
    finally:
        handle.revert()
    wait_until(lambda: normal_again(clean), 30, "normal mode after the revert")
    assert chat(clean, "ペットは乗れますか")["mode"] == "normal"


def test_http_system_http_fault_and_latency_toxic_on_one_edge_both_apply(clean: ManagedSystem) -> None:
    """Through Toxiproxy's port: the HTTP fault's 503 arrives, delayed by the latency toxic's 300 ms."""
    llm_edge = next(e for e in clean.topology.edges if e.target == "llm")
    url = f"http://127.0.0.1:{llm_edge.proxy_port}/v1/chat/completions"

    def timed(client: httpx.Client) -> tuple[int, float]:
        started = time.perf_counter()
        status = client.post(url, json=ASK).status_code
        return status, time.perf_counter() - started

    injectors = clean.injectors()
    http = next(i for i in injectors if type(i).__name__ == "HttpFaultInjector")
    network = next(i for i in injectors if type(i).__name__ == "NetworkInjector")
    with httpx.Client(timeout=10, trust_env=False) as client:
        assert timed(client)[0] == 200
        error = http.inject(HttpError("llm", status=503, method="POST", path=COMPLETIONS))
        try:
            alone = [timed(client) for _ in range(7)]
            toxic = network.inject(Latency("llm", 300))
            try:
                both = [timed(client) for _ in range(7)]
            finally:
                toxic.revert()
        finally:
            error.revert()
        assert timed(client)[0] == 200
    assert {s for s, _ in alone} == {s for s, _ in both} == {503}
    added_ms = (statistics.median(t for _, t in both) - statistics.median(t for _, t in alone)) * 1000
    assert 255 <= added_ms <= 400, f"latency toxic added {added_ms:.0f} ms to the HTTP fault's answer"


def test_http_system_reset_clears_http_faults_and_restarts_a_dead_proxy(clean: ManagedSystem) -> None:
    """reset() removes HTTP faults it did not inject, and brings a killed fault proxy back with its routes."""
    rule = HttpError("llm", status=500, method="POST", path=COMPLETIONS).to_rule(3)
    clean.http_faults.client.add_fault("gateway-to-llm", rule)
    actions = clean.reset()
    assert f"removed HTTP fault {rule['id']} (http_error) from gateway-to-llm" in actions
    record = clean.http_faults.record()
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: not is_running(record), 10, "the killed proxy to be gone")
    assert not clean.is_up()
    clean.reset()
    routes = clean.http_faults.routes()
    assert routes is not None and set(routes) == {"gateway-to-llm", "gateway-to-vector-db"}
    restarted = clean.http_faults.record()
    assert restarted is not None and restarted.pid != record.pid
    wait_until(lambda: normal_again(clean), 30, "normal mode with the restarted proxy")
    assert chat(clean, "ICカードは使えますか")["mode"] == "normal"


def test_http_system_body_regex_matches_japanese_questions_sent_as_json_escapes(clean: ManagedSystem) -> None:
    """The gateway sends 運賃 as \\u904b\\u8cc3 (json.dumps); a rule on "運賃" still fails exactly those searches."""
    wait_until(lambda: normal_again(clean), 30, "normal mode before the fault")
    handle = clean.http_faults.injector().inject(
        HttpError("vector-db", status=503, method="POST", path=r"^/(cache/)?search$", body="運賃|fare"))
    try:
        assert chat(clean, "ペットと一緒に乗れますか")["mode"] == "normal"
        assert chat(clean, "大人の運賃はいくらですか")["mode"] == "degraded-no-context"
    finally:
        handle.revert()
    wait_until(lambda: httpx.get(clean.entry_url() + "/status", timeout=5, trust_env=False).json()["mode"] == "normal",
               30, "normal mode after the revert")


def test_http_system_down_stops_the_proxy_even_when_stopping_services_fails(
        system: ManagedSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service stop that raises still leaves no fault proxy (or Toxiproxy) running; runs last in the module."""
    record = system.http_faults.record()
    assert record is not None

    def broken() -> list[str]:
        raise OSError("stop failed")

    monkeypatch.setattr(system.backend, "stop_all", broken)
    with pytest.raises(OSError, match="stop failed"):
        system.down()
    assert not is_running(record) and system.http_faults.record() is None
    assert not system.http_faults.is_up()
    monkeypatch.undo()
    system.down()  # the services, which the broken stop left running
    assert not system.backend.running()
