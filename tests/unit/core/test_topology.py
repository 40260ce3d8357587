"""Loading topology files: the bundled one works, every mistake names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, ExitCode
from core.topology import DEFAULT_TOPOLOGY, load_topology

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
    env: {PORT: "{port}"}
edges:
  - {from: front, to: back, env: BACK_URL, proxy_port: 9201}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    return path


def test_topology_bundled_reference_loads_with_dependencies_first() -> None:
    """The reference topology starts vector-db and llm before the gateway that calls them."""
    topo = load_topology(DEFAULT_TOPOLOGY)
    assert [s.name for s in topo.start_order()] == ["vector-db", "llm", "gateway"]
    assert {e.name: e.proxy_port for e in topo.edges} == {"gateway-to-vector-db": 21001, "gateway-to-llm": 21002}
    assert topo.entry == "gateway"


def test_topology_port_offset_shifts_services_and_proxies(tmp_path: Path) -> None:
    """An offset moves every port, so a second system can run beside the first."""
    topo = load_topology(write(tmp_path, GOOD)).with_port_offset(1000)
    assert topo.service("front").port == 10100
    assert topo.edges[0].proxy_port == 10201


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("port: 9101", "port: ninety"), 5, "services.back.port must be an integer"),
        (GOOD.replace("port: 9101", "port: 70000"), 5, "within 1..65535"),
        (GOOD.replace("entry: front", "entry: nowhere"), 2, "entry: 'nowhere' is not one of the services"),
        (GOOD.replace("to: back", "to: elsewhere"), 12, "edge.to: 'elsewhere'"),
        (GOOD.replace("    command: [\"{python}\", \"-m\", \"back\"]\n", ""), 5, "missing key 'command'"),
        (GOOD.replace("env: {PORT", "colour: {PORT"), 10, "unknown key 'colour'"),
        (GOOD.replace("port: 9101", "port: 9100"), None, "port 9100 is also used"),
        (GOOD + "  - {from: back, to: front, env: X, proxy_port: 9202}\n", None, "dependency cycle"),
        ("name: [unclosed\n", 2, "not valid YAML"),
    ],
)
def test_topology_errors_name_the_line_and_key(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    """A malformed topology raises ConfigError (exit 2) with path, line and what is wrong."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_topology(path)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"{path}:{line}:" if line is not None else f"{path}:")
    assert info.value.exit_code == ExitCode.USAGE


def test_topology_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A path that does not exist is reported, not a traceback."""
    with pytest.raises(ConfigError, match="cannot read topology"):
        load_topology(tmp_path / "absent.yaml")


ALIASED = GOOD.replace('    command: ["{python}", "-m", "back"]\n',
                       '    command: ["{python}", "-m", "back"]\n    aliases: [vector-db]\n')


def test_topology_aliases_let_features_name_a_service_by_its_role(tmp_path: Path) -> None:
    """A feature's "vector-db" means the service that lists it as an alias; other names stay as they are."""
    topo = load_topology(write(tmp_path, ALIASED))
    assert topo.canonical("vector-db") == "back" and topo.resolve("vector-db") == "back"
    assert topo.canonical("front-to-back") == "front-to-back"  # an edge name is already canonical
    assert topo.canonical("redis") == "redis"
    with pytest.raises(ConfigError, match="unknown service 'redis'"):
        topo.resolve("redis")


def test_topology_alias_may_not_shadow_a_service(tmp_path: Path) -> None:
    """An alias equal to another service's name would make features ambiguous: refused with the line."""
    with pytest.raises(ConfigError, match="aliases: 'front' already names front"):
        load_topology(write(tmp_path, ALIASED.replace("aliases: [vector-db]", "aliases: [front]")))


def test_topology_env_assignments_reach_one_service(tmp_path: Path) -> None:
    """--env SERVICE:NAME=VALUE adds to that service's environment (by name or alias) and nothing else."""
    topo = load_topology(write(tmp_path, ALIASED)).with_env(["vector-db:MODE=slow", "front:PORT=1"])
    assert topo.service("back").env == {"MODE": "slow"}
    assert topo.service("front").env == {"PORT": "1"}
    for bad in ("back", "back:=x", "back:1X=2", "nowhere:A=b"):
        with pytest.raises(ConfigError):
            topo.with_env([bad])
