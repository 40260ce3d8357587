"""Network faults against a real toxiproxy-server and real HTTP upstreams on loopback (no mocks).

The module shares one server; each test reverts what it injected, and the ``injector`` fixture
checks afterwards (with the stale-cleanup code itself) that nothing was left behind.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import FaultParameterError
from faults.base import Direction
from faults.network import TOXIC_PREFIX, FlapHandle, NetworkInjector, ToxicHandle
from faults.network_specs import (
    Bandwidth,
    Blackhole,
    Flap,
    Latency,
    LimitData,
    Partition,
    ResetPeer,
    Slicer,
    SlowClose,
    TimeoutClose,
    ToxicFault,
)
from faults.proxies import ProxyManager, clean_stale
from tests.integration.faults.toxiproxy_lab import BODY, HOST, Lab, request_once, running_lab, timed_request
from tests.support import wait_until

pytestmark = [pytest.mark.integration]

REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """toxiproxy-server started by the harness's lifecycle code, with the topology's proxies."""
    log_dir: Path = tmp_path_factory.mktemp("toxiproxy")
    with running_lab(log_dir) as lab:
        ProxyManager(lab.client, lab.topology).ensure()
        yield lab


@pytest.fixture
def injector(lab: Lab) -> Iterator[NetworkInjector]:
    """The injector under test; afterwards no toxic may remain and every proxy must be enabled."""
    yield NetworkInjector(lab.client, lab.topology)
    leftovers = clean_stale(lab.client)
    assert leftovers.empty, f"the test left faults behind: {leftovers}"


def reachable(port: int) -> bool:
    """True when a request through ``port`` gets the full answer."""
    try:
        return request_once(port, timeout_s=1.0).endswith(BODY)
    except OSError:
        return False


def median_ms(port: int, samples: int = 7) -> float:
    return statistics.median(timed_request(port) for _ in range(samples)) * 1000


def test_latency_toxic_adds_300ms_to_each_request(lab: Lab, injector: NetworkInjector) -> None:
    """A 300 ms latency toxic adds 300 ms ±15% over the direct path; its revert removes it."""
    direct = median_ms(lab.service_port("vector-db"))
    proxy = lab.proxy_port("vector-db")
    handle = injector.inject(Latency("vector-db", 300))
    try:
        added = median_ms(proxy) - direct
    finally:
        handle.revert()
    assert 255 <= added <= 345, f"added {added:.1f} ms"
    assert median_ms(proxy) - direct < 50


def test_latency_both_directions_is_two_toxics_and_double_delay(lab: Lab, injector: NetworkInjector) -> None:
    """Direction BOTH adds an upstream and a downstream toxic, so a request is delayed twice."""
    proxy = lab.proxy_port("vector-db")
    handle = injector.inject(Latency("gateway-to-vector-db", 100, direction=Direction.BOTH))
    try:
        toxics = lab.client.toxics("gateway-to-vector-db")
        assert sorted(t.stream for t in toxics) == ["downstream", "upstream"]
        assert all(t.name.startswith(TOXIC_PREFIX) for t in toxics)
        assert timed_request(proxy) >= 0.19
    finally:
        handle.revert()
    assert lab.client.toxics("gateway-to-vector-db") == []


def test_partition_refuses_connections_and_revert_heals(lab: Lab, injector: NetworkInjector) -> None:
    """A partition closes open connections and refuses new ones; reverting restores service."""
    port = lab.proxy_port("llm")
    assert reachable(port)
    with socket.create_connection((HOST, port), timeout=5) as held:
        handle = injector.inject(Partition("llm"))
        try:
            assert held.recv(1) == b""  # the open connection was closed by Toxiproxy
            with pytest.raises(ConnectionRefusedError):
                request_once(port)
        finally:
            handle.revert()
    assert reachable(port)
    assert lab.client.proxy("gateway-to-llm").enabled


def test_blackhole_makes_a_client_time_out_and_revert_releases_it(lab: Lab, injector: NetworkInjector) -> None:
    """Connections are accepted but never answered; reverting closes the held ones and heals."""
    port = lab.proxy_port("vector-db")
    handle = injector.inject(Blackhole("vector-db"))
    try:
        with pytest.raises(TimeoutError):
            request_once(port, timeout_s=0.5)
        with socket.create_connection((HOST, port), timeout=5) as held:
            held.sendall(REQUEST)
            handle.revert()
            try:
                assert held.recv(65536) == b""  # closed by the revert, never answered
            except ConnectionResetError:
                pass
    finally:
        handle.revert()
    assert reachable(port)


def test_reset_peer_with_probability_one_resets_every_connection(lab: Lab, injector: NetworkInjector) -> None:
    """reset_peer at probability 1 resets each new connection; reverting restores answers."""
    port = lab.proxy_port("llm")
    handle = injector.inject(ResetPeer("llm", probability=1.0))
    try:
        for _ in range(5):
            with pytest.raises(ConnectionResetError):
                request_once(port)
    finally:
        handle.revert()
    assert reachable(port)


def test_flap_alternates_down_and_up_then_ends_up(lab: Lab, injector: NetworkInjector) -> None:
    """Flap starts down, alternates on its period, and leaves the proxy enabled when it ends."""
    port = lab.proxy_port("llm")
    handle = injector.inject(Flap("llm", down_s=0.3, up_s=0.3, duration_s=1.65))
    assert isinstance(handle, FlapHandle)
    seen: list[bool] = []

    def flapping_ended() -> bool:
        state = reachable(port)
        if not seen or seen[-1] != state:
            seen.append(state)
        return not handle.running

    try:
        wait_until(flapping_ended, 10, "the flapping to end", interval_s=0.02)
    finally:
        handle.revert()
    assert handle.error is None
    assert seen[:5] == [False, True, False, True, False], seen
    states = [enabled for _, enabled in handle.transitions]
    assert states == [False, True, False, True, False, True], states
    times = [t for t, _ in handle.transitions]
    # Each change comes on its boundary counted from the start (0.3 s apart), never before it; how late
    # one may come on a loaded machine is a timing fact for bench/, not for this test.
    boundaries = [times[0] + 0.3 * k for k in range(1, len(times))]
    assert all(t >= b - 0.001 for t, b in zip(times[1:], boundaries)), (times, boundaries)
    assert reachable(port)


def test_flap_revert_stops_it_and_leaves_the_proxy_enabled(lab: Lab, injector: NetworkInjector) -> None:
    """Reverting in the middle stops the thread; the proxy stays enabled afterwards."""
    port = lab.proxy_port("llm")
    handle = injector.inject(Flap("llm", down_s=0.1, up_s=0.1, duration_s=60))
    assert isinstance(handle, FlapHandle)
    wait_until(lambda: len(handle.transitions) >= 3, 5, "a few flaps")
    handle.revert()
    assert not handle.running
    assert lab.client.proxy("gateway-to-llm").enabled
    deadline = time.monotonic() + 0.5  # longer than two phases: a live thread would have flapped
    while time.monotonic() < deadline:
        assert reachable(port)


def test_invalid_toxics_are_refused_before_reaching_the_server(lab: Lab, injector: NetworkInjector) -> None:
    """Specs that would crash or stall Toxiproxy, or name no edge, never reach it; it stays healthy."""
    for spec in (
        Slicer("vector-db", 0, 0),
        Slicer("vector-db", 10, 20),
        Bandwidth("vector-db", 0),
        Latency("vector-db", -1),
        ResetPeer("llm", probability=2.0),
        Latency("nowhere", 300),
    ):
        with pytest.raises(FaultParameterError):
            injector.inject(spec)
    assert all(not proxy.toxics for proxy in lab.client.proxies().values())
    assert lab.client.version() == "2.12.0"
    assert reachable(lab.proxy_port("vector-db"))


@pytest.mark.parametrize(
    "spec",
    [
        Latency("llm", 5, 1),
        Bandwidth("llm", 100),
        Blackhole("llm", direction=Direction.UPSTREAM),
        TimeoutClose("llm", 100),
        ResetPeer("llm", probability=0.5, timeout_ms=10),
        SlowClose("llm", 20),
        Slicer("llm", 8, 8, 10),
        LimitData("llm", 1000),
    ],
    ids=lambda spec: spec.kind,
)
def test_every_toxic_kind_is_accepted_with_our_attribute_names(
    lab: Lab, injector: NetworkInjector, spec: ToxicFault
) -> None:
    """The server reports back exactly the attributes we sent (it ignores unknown names silently)."""
    handle = injector.inject(spec)
    assert isinstance(handle, ToxicHandle)
    try:
        toxics = {t.name: t for t in lab.client.toxics("gateway-to-llm")}
        assert set(toxics) == set(handle.toxics)
        for toxic in toxics.values():
            assert toxic.type == spec.toxic_type
            assert dict(toxic.attributes) == spec.attributes()
            assert toxic.toxicity == pytest.approx(spec.toxicity())
    finally:
        handle.revert()
    assert lab.client.version() == "2.12.0"


def test_slicer_at_the_largest_allowed_variation_keeps_the_server_alive(lab: Lab, injector: NetworkInjector) -> None:
    """size_variation equal to average_size passes validation, and traffic through it still works."""
    port = lab.proxy_port("vector-db")
    handle = injector.inject(Slicer("vector-db", 4, 4, 0))
    try:
        assert all(reachable(port) for _ in range(10))
    finally:
        handle.revert()
    assert lab.client.version() == "2.12.0"


def test_revert_twice_and_after_the_toxic_vanished_is_fine(lab: Lab, injector: NetworkInjector) -> None:
    """Revert is idempotent, and a toxic or proxy state already cleared elsewhere is not an error."""
    latency = injector.inject(Latency("vector-db", 10))
    partition = injector.inject(Partition("llm"))
    lab.client.reset()
    latency.revert()
    latency.revert()
    partition.revert()
    assert reachable(lab.proxy_port("llm"))


def test_clean_stale_clears_what_a_crashed_run_left(lab: Lab, injector: NetworkInjector) -> None:
    """Toxics and disabled proxies left without a revert are removed and reported."""
    latency = injector.inject(Latency("vector-db", 50, direction=Direction.BOTH))
    assert isinstance(latency, ToxicHandle)
    injector.inject(Partition("llm"))
    # The run "crashes" here: nothing reverts. The next run cleans the server.
    cleanup = clean_stale(lab.client)
    assert cleanup.enabled == ("gateway-to-llm",)
    assert sorted(cleanup.ours) == sorted(("gateway-to-vector-db", name) for name in latency.toxics)
    assert reachable(lab.proxy_port("llm"))
    assert lab.client.toxics("gateway-to-vector-db") == []


def test_proxy_manager_ensure_is_idempotent_and_keeps_live_toxics(lab: Lab, injector: NetworkInjector) -> None:
    """Ensuring the proxies again changes nothing: same proxies, a live toxic survives."""
    manager = ProxyManager(lab.client, lab.topology)
    handle = injector.inject(Latency("llm", 10))
    assert isinstance(handle, ToxicHandle)
    try:
        proxies = manager.ensure()
        assert {p.name: p.listen for p in proxies} == manager.routes()
        assert {p.name for p in proxies} == {"gateway-to-llm", "gateway-to-vector-db"}
        assert [t.name for t in lab.client.toxics("gateway-to-llm")] == list(handle.toxics)
    finally:
        handle.revert()


def test_clean_stale_limited_to_our_proxies_leaves_others_alone(lab: Lab, injector: NetworkInjector) -> None:
    """With ``only``, cleanup touches just the named proxies (a reused server may hold other work)."""
    ours = injector.inject(Latency("vector-db", 10))
    theirs = injector.inject(Latency("llm", 10))
    assert isinstance(ours, ToxicHandle) and isinstance(theirs, ToxicHandle)
    try:
        cleanup = clean_stale(lab.client, only={"gateway-to-vector-db"})
        assert cleanup.toxics == tuple(("gateway-to-vector-db", name) for name in ours.toxics)
        assert lab.client.toxics("gateway-to-vector-db") == []
        assert [t.name for t in lab.client.toxics("gateway-to-llm")] == list(theirs.toxics)
    finally:
        theirs.revert()
