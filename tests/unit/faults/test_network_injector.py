"""The network injector against a fake Toxiproxy API: nothing sent for a bad spec, exactly its toxics reverted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.errors import FaultParameterError
from core.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from faults.base import Direction
from faults.network import TOXIC_PREFIX, NetworkInjector, ToxicHandle
from faults.network_specs import Bandwidth, Latency, Slicer
from faults.toxiproxy import ToxiproxyClient


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(DEFAULT_TOPOLOGY)


class Recorder:
    """A fake Toxiproxy API that records every request and accepts every toxic."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if request.method == "POST" and request.url.path.endswith("/toxics"):
            return httpx.Response(200, json=body)
        return httpx.Response(204)


def test_network_injector_invalid_spec_sends_nothing(topology: Topology) -> None:
    """Validation and target resolution both happen before the first API request."""
    recorder = Recorder()
    with ToxiproxyClient(transport=httpx.MockTransport(recorder)) as client:
        injector = NetworkInjector(client, topology)
        for spec in (Slicer("llm", 0), Latency("nowhere", 300), Bandwidth("vector-db", 0)):
            with pytest.raises(FaultParameterError):
                injector.inject(spec)
    assert recorder.requests == []


def test_network_injector_both_directions_adds_two_prefixed_toxics(topology: Topology) -> None:
    """A BOTH spec sends two toxics named with the harness prefix; revert deletes exactly those."""
    recorder = Recorder()
    with ToxiproxyClient(transport=httpx.MockTransport(recorder)) as client:
        handle = NetworkInjector(client, topology).inject(Latency("llm", 300, direction=Direction.BOTH))
        assert isinstance(handle, ToxicHandle)
        handle.revert()
        handle.revert()
    posts = [body for method, _, body in recorder.requests if method == "POST"]
    deletes = [path for method, path, _ in recorder.requests if method == "DELETE"]
    assert [b["stream"] for b in posts] == ["upstream", "downstream"]
    assert all(b["name"].startswith(TOXIC_PREFIX) and b["type"] == "latency" for b in posts)
    assert deletes == [f"/proxies/gateway-to-llm/toxics/{name}" for name in handle.toxics]
    assert handle.proxy == "gateway-to-llm"
