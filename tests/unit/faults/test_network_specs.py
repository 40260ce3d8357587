"""Network fault specs: bad values are refused before anything is sent, each error naming its parameter."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ExitCode, FaultParameterError
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from faults.base import Direction, FaultSpec
from faults.network_specs import (
    NETWORK_FAULTS,
    Bandwidth,
    Blackhole,
    Flap,
    LimitData,
    Latency,
    OneWayPartition,
    Partition,
    ResetPeer,
    Slicer,
    SlowClose,
    TimeoutClose,
    resolve_edge,
)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(DEFAULT_TOPOLOGY)


def refused(spec: FaultSpec) -> FaultParameterError:
    with pytest.raises(FaultParameterError) as caught:
        spec.validate()
    return caught.value


@pytest.mark.parametrize(
    ("spec", "parameter"),
    [
        (Latency("vector-db", -1), "latency_ms"),
        (Latency("vector-db", 300, -5), "jitter_ms"),
        (Latency("vector-db", 3_600_001), "latency_ms"),
        (Latency("vector-db", 1.5), "latency_ms"),  # type: ignore[arg-type]
        (Latency("vector-db", True), "latency_ms"),
        (Latency("", 300), "target"),
        (Latency("vector-db", 300, direction="sideways"), "direction"),  # type: ignore[arg-type]
        (Bandwidth("llm", 0), "rate_kbps"),
        (Bandwidth("llm", -10), "rate_kbps"),
        (TimeoutClose("llm", 0), "timeout_ms"),
        (ResetPeer("llm", probability=1.5), "probability"),
        (ResetPeer("llm", probability=-0.1), "probability"),
        (ResetPeer("llm", timeout_ms=-1), "timeout_ms"),
        (SlowClose("llm", -1), "delay_ms"),
        (Slicer("llm", 0), "average_size"),
        (Slicer("llm", 0, 0), "average_size"),
        (Slicer("llm", 10, 11), "size_variation"),
        (Slicer("llm", 10, -1), "size_variation"),
        (Slicer("llm", 10, 2, -1), "delay_us"),
        (LimitData("llm", -1), "bytes"),
        (OneWayPartition("llm", direction=Direction.BOTH), "direction"),
        (Flap("llm", 0, 1, 10), "down_s"),
        (Flap("llm", 1, -1, 10), "up_s"),
        (Flap("llm", 1, 1, 0), "duration_s"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_network_spec_out_of_range_names_the_parameter(spec: FaultSpec, parameter: str) -> None:
    """Each invalid value raises FaultParameterError naming the fault kind and the parameter."""
    error = refused(spec)
    assert error.parameter == parameter
    assert error.fault == spec.kind
    assert f"parameter {parameter!r}" in str(error)
    assert error.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    "spec",
    [
        Latency("vector-db", 0),
        Latency("vector-db", 300, 400),  # jitter beyond the latency is clipped by Toxiproxy, not a crash
        Bandwidth("llm", 1),
        Blackhole("llm", direction=Direction.UPSTREAM),
        TimeoutClose("llm", 1),
        ResetPeer("llm", probability=0),
        ResetPeer("llm", probability=1, timeout_ms=0),
        SlowClose("llm", 0),
        Slicer("llm", 1),
        Slicer("llm", 10, 10, 0),  # variation equal to the average is the largest safe one
        LimitData("llm", 0),
        OneWayPartition("llm", direction=Direction.DOWNSTREAM),
        Partition("llm"),
        Flap("llm", 0.5, 0.5, 3),
    ],
    ids=lambda spec: spec.kind,
)
def test_network_spec_boundary_values_are_accepted(spec: FaultSpec) -> None:
    """Values at the edge of each range validate without error."""
    spec.validate()


def test_network_spec_direction_both_means_two_streams() -> None:
    """BOTH becomes an upstream and a downstream toxic; the timeout family defaults to BOTH."""
    assert Latency("llm", 1, direction=Direction.BOTH).streams() == ("upstream", "downstream")
    assert Latency("llm", 1).streams() == ("downstream",)
    assert Blackhole("llm").streams() == ("upstream", "downstream")
    assert TimeoutClose("llm", 5).streams() == ("upstream", "downstream")
    assert OneWayPartition("llm", direction=Direction.UPSTREAM).streams() == ("upstream",)


def test_network_spec_translates_to_toxiproxy_units() -> None:
    """Attributes carry Toxiproxy's names and units; probability becomes toxicity."""
    assert Latency("llm", 300, 20).attributes() == {"latency": 300, "jitter": 20}
    assert Blackhole("llm").attributes() == {"timeout": 0}
    assert Slicer("llm", 100, 10, 50).attributes() == {"average_size": 100, "size_variation": 10, "delay": 50}
    reset = ResetPeer("llm", probability=0.25, timeout_ms=10)
    assert (reset.attributes(), reset.toxicity()) == ({"timeout": 10}, 0.25)


def test_network_spec_catalog_lists_every_kind_once() -> None:
    """NETWORK_FAULTS holds each network spec class with a distinct kind."""
    kinds = [cls.kind for cls in NETWORK_FAULTS]
    assert len(kinds) == len(set(kinds)) == 11


def test_resolve_edge_accepts_callee_service_and_edge_name(topology: Topology) -> None:
    """A service resolves to the edge that reaches it; an edge name resolves to itself."""
    assert resolve_edge(topology, Partition("vector-db")).name == "gateway-to-vector-db"
    assert resolve_edge(topology, Partition("gateway-to-llm")).name == "gateway-to-llm"


def test_resolve_edge_unknown_target_names_known_edges(topology: Topology) -> None:
    """An unknown service or edge (or one no edge reaches) is refused, listing the known edges."""
    for target in ("vectordb", "gateway", "gateway-to-cache"):
        with pytest.raises(FaultParameterError) as caught:
            resolve_edge(topology, Latency(target, 300))
        assert caught.value.parameter == "target"
        assert "gateway-to-llm, gateway-to-vector-db" in str(caught.value)


def test_resolve_edge_ambiguous_service_asks_for_an_edge(topology: Topology, tmp_path: Any) -> None:
    """A service reached by two callers is ambiguous; the message names both edges."""
    path = tmp_path / "topology.yaml"
    path.write_text(
        "name: two-callers\nentry: a\nservices:\n"
        "  a: {port: 9100, command: [x]}\n  b: {port: 9101, command: [x]}\n  c: {port: 9102, command: [x]}\n"
        "edges:\n  - {from: a, to: c, env: C_URL, proxy_port: 9201}\n  - {from: b, to: c, env: C_URL, proxy_port: 9202}\n"
    )
    with pytest.raises(FaultParameterError, match="a-to-c, b-to-c") as caught:
        resolve_edge(load_topology(path), Partition("c"))
    assert caught.value.parameter == "target"
