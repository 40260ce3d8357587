"""The topology's ``http_proxy_port`` edge key: optional, validated, offset and checked like other ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.http.manager import HttpFaultProxy
from faults.proxies import ProxyManager
from faults.toxiproxy import ToxiproxyClient

GOOD = """\
name: demo
entry: front
services:
  back:
    port: 9101
    command: ["{python}", "-m", "back"]
  front:
    port: 9100
    command: ["{python}", "-m", "front"]
edges:
  - {from: front, to: back, env: BACK_URL, proxy_port: 9201, http_proxy_port: 9301}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    return path


def test_http_topology_key_is_read_and_shifted_by_the_offset(tmp_path: Path) -> None:
    """The key is read, and the port offset moves it with every other port."""
    topo = load_topology(write(tmp_path, GOOD))
    assert topo.edges[0].http_proxy_port == 9301
    assert topo.with_port_offset(1000).edges[0].http_proxy_port == 10301


def test_http_topology_key_is_optional(tmp_path: Path) -> None:
    """An edge without the key has no HTTP route, and an offset leaves it without one."""
    topo = load_topology(write(tmp_path, GOOD.replace(", http_proxy_port: 9301", "")))
    assert topo.edges[0].http_proxy_port is None
    assert topo.with_port_offset(1000).edges[0].http_proxy_port is None


@pytest.mark.parametrize(
    ("replacement", "line", "fragment"),
    [
        ("http_proxy_port: many", 11, "edge.http_proxy_port must be an integer, got 'many'"),
        ("http_proxy_port: 0", 11, "edge.http_proxy_port must be within 1..65535"),
        ("http_proxy_port: 70000", 11, "edge.http_proxy_port must be within 1..65535"),
        ("http_proxy_port: 9100", None, "port 9100 is also used by front"),
        ("http_proxy_port: 9201", None, "front-to-back (http_proxy_port): port 9201 is also used by front-to-back"),
    ],
)
def test_http_topology_bad_key_names_file_line_and_key(tmp_path: Path, replacement: str, line: int | None,
                                                       fragment: str) -> None:
    """A bad or colliding http_proxy_port is a ConfigError naming the file (and line when known)."""
    path = write(tmp_path, GOOD.replace("http_proxy_port: 9301", replacement))
    with pytest.raises(ConfigError) as caught:
        load_topology(path)
    assert caught.value.line == line
    assert fragment in str(caught.value) and str(path) in str(caught.value)


def test_http_topology_offset_beyond_the_port_range_is_refused(tmp_path: Path) -> None:
    """An offset that pushes the route's port past 65535 is refused like any other port."""
    with pytest.raises(ConfigError, match=r"\(http_proxy_port\): port 65601 is outside 1..65535"):
        load_topology(write(tmp_path, GOOD)).with_port_offset(56_300)


def test_http_topology_bundled_edges_route_through_the_fault_proxy(tmp_path: Path) -> None:
    """The reference topology gives both edges a route; Toxiproxy then forwards to the route, not the callee."""
    topo = load_topology(DEFAULT_TOPOLOGY).with_port_offset(100)
    assert {e.name: e.http_proxy_port for e in topo.edges} == {"gateway-to-vector-db": 20101, "gateway-to-llm": 20102}
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=100, state_dir=tmp_path)
    manager = HttpFaultProxy(topo, settings)
    assert manager.url == "http://127.0.0.1:8575"
    assert manager.wanted_routes()["gateway-to-llm"] == ("127.0.0.1:20102", "127.0.0.1:8102")
    with ToxiproxyClient("http://127.0.0.1:9") as client:
        via = {c.name: c.upstream for c in ProxyManager(client, topo, via_http_proxy=True).configs()}
        direct = {c.name: c.upstream for c in ProxyManager(client, topo).configs()}
    assert via == {"gateway-to-vector-db": "127.0.0.1:20101", "gateway-to-llm": "127.0.0.1:20102"}
    assert direct == {"gateway-to-vector-db": "127.0.0.1:8101", "gateway-to-llm": "127.0.0.1:8102"}
    manager.close()
