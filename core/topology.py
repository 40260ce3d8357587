"""The topology file: which services make up a system, how to start them, and which calls cross which edge.

A topology is all the harness knows about a system under test, so the same features can run against
the bundled reference chatbot or a user's own system. The file is YAML; every error names the file,
the line and the key, because the person reading it is editing that file.

    name: tsubame-reference
    entry: gateway                      # the service that speaks the chatbot contract
    mode: {status_path: /status, response_field: mode}
    services:
      vector-db:
        port: 8001
        command: ["{python}", "-m", "system_under_test.vectordb"]
        env: {PORT: "{port}"}
    edges:
      - {from: gateway, to: vector-db, env: VECTORDB_URL, proxy_port: 21001, http_proxy_port: 20001}

An optional ``monitoring: {enabled: true, rules: [alerts.rules.yml], scrape_interval_s: 1}`` makes runs
start a Prometheus evaluating those alert rules (paths relative to this file; docs/monitoring.md).

An edge's optional ``http_proxy_port`` gives it an HTTP fault route: Toxiproxy's proxy forwards to the
harness's HTTP fault proxy listening there, which forwards to the callee (``faults.http``), so HTTP-level
faults (error statuses, rate limits, broken streams) can be injected on that edge. Like every port it
moves with the port offset and must not collide with another.

Placeholders in commands and environment values: ``{python}`` (the harness's interpreter), ``{host}``,
``{port}`` (the service's own, after the port offset). An edge's ``env`` variable is set on the calling
service to ``http://host:port`` of the callee, or of its Toxiproxy proxy when faults are routed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .errors import ConfigError

DEFAULT_TOPOLOGY = Path(__file__).resolve().parent.parent / "system_under_test" / "topology.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Probes:
    live: str = "/health/live"
    ready: str = "/health/ready"
    startup: str = "/health/startup"


@dataclass(frozen=True)
class DockerSpec:
    image: str
    build_context: str | None = None
    dockerfile: str | None = None


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    probes: Probes = field(default_factory=Probes)
    docker: DockerSpec | None = None
    startup_timeout_s: float = 30.0
    # Other names features may use for this service, e.g. a user's "search" service that plays the
    # "vector-db" role of the bundled features.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    env: str
    proxy_port: int
    http_proxy_port: int | None = None  # where the HTTP fault proxy listens for this edge, if it has a route

    @property
    def name(self) -> str:
        """The proxy's name in Toxiproxy: ``gateway-to-vector-db``."""
        return f"{self.source}-to-{self.target}"


@dataclass(frozen=True)
class ModeSource:
    status_path: str = "/status"
    response_field: str = "mode"


@dataclass(frozen=True)
class MonitoringSpec:
    """The topology's ``monitoring:`` key: whether runs start Prometheus by default, and its alert rules.

    ``rules`` are resolved against the topology file's folder; ``scrape_interval_s`` is also the rules'
    evaluation interval (see monitoring/ and docs/monitoring.md).
    """

    enabled: bool = False
    rules: tuple[Path, ...] = ()
    scrape_interval_s: float = 1.0


@dataclass(frozen=True)
class Topology:
    name: str
    host: str
    entry: str
    services: dict[str, Service]
    edges: tuple[Edge, ...]
    mode: ModeSource
    path: Path
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise ConfigError(str(self.path), f"unknown service {name!r} (known: {known})") from None

    def canonical(self, name: str) -> str:
        """The service or edge ``name`` means: itself, or the service that has it as an alias."""
        if name in self.services or any(edge.name == name for edge in self.edges):
            return name
        owners = [s.name for s in self.services.values() if name in s.aliases]
        return owners[0] if len(owners) == 1 else name

    def resolve(self, name: str) -> str:
        """The service ``name`` (or an alias of it) refers to; ``ConfigError`` listing the known ones."""
        return self.service(self.canonical(name)).name

    def start_order(self) -> list[Service]:
        """Dependencies before the services that call them, so each starts against a live callee."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise ConfigError(str(self.path), f"dependency cycle through {name!r}")
            visiting.add(name)
            for edge in self.edges:
                if edge.source == name:
                    visit(edge.target)
            visiting.discard(name)
            order.append(name)

        for name in self.services:
            visit(name)
        return [self.services[n] for n in order]

    def with_port_offset(self, offset: int) -> Topology:
        """The same system shifted by ``offset`` on every port, so two runs can coexist."""
        if offset == 0:
            return self
        services = {n: replace(s, port=s.port + offset) for n, s in self.services.items()}
        edges = tuple(
            replace(e, proxy_port=e.proxy_port + offset,
                    http_proxy_port=None if e.http_proxy_port is None else e.http_proxy_port + offset)
            for e in self.edges
        )
        topo = replace(self, services=services, edges=edges)
        topo._check_ports()
        return topo

    def with_env(self, assignments: list[str]) -> Topology:
        """The same system with ``SERVICE:NAME=VALUE`` assignments added to services' environments.

        How a run picks a variant or shrinks a timeout without editing the topology file, e.g.
        ``--env gateway:GATEWAY_VARIANT=no-fallback``. A bad assignment is a ``ConfigError``.
        """
        services = dict(self.services)
        for text in assignments:
            target, sep, rest = text.partition(":")
            name, eq, value = rest.partition("=")
            if not sep or not eq or not _ENV_NAME.match(name):
                raise ConfigError("--env", f"{text!r} is not SERVICE:NAME=VALUE")
            service = self.resolve(target)
            services[service] = replace(services[service], env={**services[service].env, name: value})
        return replace(self, services=services)

    def _check_ports(self) -> None:
        seen: dict[int, str] = {}
        ports = [(s.port, s.name) for s in self.services.values()] + [(e.proxy_port, e.name) for e in self.edges]
        ports += [(e.http_proxy_port, f"{e.name} (http_proxy_port)") for e in self.edges if e.http_proxy_port is not None]
        for port, owner in ports:
            if not 1 <= port <= 65535:
                raise ConfigError(str(self.path), f"{owner}: port {port} is outside 1..65535")
            if port in seen:
                raise ConfigError(str(self.path), f"{owner}: port {port} is also used by {seen[port]}")
            seen[port] = owner


# -- loading -----------------------------------------------------------------------------------------


class _Reader:
    """Walks PyYAML's node tree so every complaint can name the line it is about."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(str(self.path), message, line)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, f"{what}: keys must be plain names")
            if key.value in out:
                raise self.fail(key, f"{what}: duplicate key {key.value!r}")
            out[key.value] = value
        return out

    def only(self, items: dict[str, yaml.Node], allowed: set[str], what: str, node: yaml.Node) -> None:
        for key, value in items.items():
            if key not in allowed:
                raise self.fail(value, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def require(self, items: dict[str, yaml.Node], key: str, what: str, node: yaml.Node) -> yaml.Node:
        if key not in items:
            raise self.fail(node, f"{what}: missing key {key!r}")
        return items[key]

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise self.fail(node, f"{what} must be a non-empty string")
        return str(node.value)

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be an integer")
        try:
            value = int(node.value)
        except ValueError:
            raise self.fail(node, f"{what} must be an integer, got {node.value!r}") from None
        if not low <= value <= high:
            raise self.fail(node, f"{what} must be within {low}..{high}, got {value}")
        return value

    def number(self, node: yaml.Node, what: str) -> float:
        try:
            value = float(node.value) if isinstance(node, yaml.ScalarNode) else -1.0
        except ValueError:
            value = -1.0
        if value <= 0:
            raise self.fail(node, f"{what} must be a positive number")
        return value

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, f"{what} must be a non-empty list of strings")
        return tuple(self.string(item, what) for item in node.value)


def load_topology(path: Path | str = DEFAULT_TOPOLOGY) -> Topology:
    """Read and validate a topology file; ``ConfigError`` names file, line and key on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read topology: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    if root is None:
        raise ConfigError(str(path), "the topology is empty")
    r = _Reader(path)
    top = r.mapping(root, "topology")
    r.only(top, {"name", "host", "entry", "mode", "services", "edges", "monitoring"}, "topology", root)
    name = r.string(r.require(top, "name", "topology", root), "name")
    host = r.string(top["host"], "host") if "host" in top else "127.0.0.1"
    services_node = r.require(top, "services", "topology", root)
    services = {key: _service(r, key, node) for key, node in r.mapping(services_node, "services").items()}
    if not services:
        raise r.fail(services_node, "services: at least one service is needed")
    claimed: dict[str, str] = {}
    for service in services.values():
        for alias in service.aliases:
            if alias in services or alias in claimed:
                other = alias if alias in services else claimed[alias]
                raise r.fail(services_node, f"services.{service.name}.aliases: {alias!r} already names {other}")
            claimed[alias] = service.name
    entry_node = r.require(top, "entry", "topology", root)
    entry = r.string(entry_node, "entry")
    if entry not in services:
        raise r.fail(entry_node, f"entry: {entry!r} is not one of the services ({', '.join(services)})")
    edges: list[Edge] = []
    if "edges" in top:
        edges_node = top["edges"]
        if not isinstance(edges_node, yaml.SequenceNode):
            raise r.fail(edges_node, "edges must be a list")
        edges = [_edge(r, node, services) for node in edges_node.value]
    mode = ModeSource()
    if "mode" in top:
        items = r.mapping(top["mode"], "mode")
        r.only(items, {"status_path", "response_field"}, "mode", top["mode"])
        mode = ModeSource(
            status_path=r.string(items["status_path"], "mode.status_path") if "status_path" in items else "/status",
            response_field=r.string(items["response_field"], "mode.response_field") if "response_field" in items else "mode",
        )
    monitoring = _monitoring(r, top["monitoring"], path) if "monitoring" in top else MonitoringSpec()
    topo = Topology(name, host, entry, services, tuple(edges), mode, path, monitoring)
    topo._check_ports()
    topo.start_order()  # rejects cycles now rather than at start-up
    return topo


def _service(r: _Reader, name: str, node: yaml.Node) -> Service:
    what = f"services.{name}"
    if not _NAME.match(name):
        raise r.fail(node, f"{what}: service names are lowercase letters, digits and '-'")
    items = r.mapping(node, what)
    r.only(items, {"port", "command", "env", "probes", "docker", "startup_timeout_s", "aliases"}, what, node)
    port = r.integer(r.require(items, "port", what, node), f"{what}.port", 1, 65535)
    command = r.strings(r.require(items, "command", what, node), f"{what}.command")
    env: dict[str, str] = {}
    if "env" in items:
        for key, value in r.mapping(items["env"], f"{what}.env").items():
            if not _ENV_NAME.match(key):
                raise r.fail(value, f"{what}.env: {key!r} is not a valid variable name")
            if not isinstance(value, yaml.ScalarNode):
                raise r.fail(value, f"{what}.env.{key} must be a string")
            env[key] = str(value.value)
    probes = Probes()
    if "probes" in items:
        p = r.mapping(items["probes"], f"{what}.probes")
        r.only(p, {"live", "ready", "startup"}, f"{what}.probes", items["probes"])
        probes = Probes(**{k: r.string(v, f"{what}.probes.{k}") for k, v in p.items()})
    docker = None
    if "docker" in items:
        d = r.mapping(items["docker"], f"{what}.docker")
        r.only(d, {"image", "build_context", "dockerfile"}, f"{what}.docker", items["docker"])
        docker = DockerSpec(
            image=r.string(r.require(d, "image", f"{what}.docker", items["docker"]), f"{what}.docker.image"),
            build_context=r.string(d["build_context"], f"{what}.docker.build_context") if "build_context" in d else None,
            dockerfile=r.string(d["dockerfile"], f"{what}.docker.dockerfile") if "dockerfile" in d else None,
        )
    timeout = r.number(items["startup_timeout_s"], f"{what}.startup_timeout_s") if "startup_timeout_s" in items else 30.0
    aliases: tuple[str, ...] = ()
    if "aliases" in items:
        aliases = r.strings(items["aliases"], f"{what}.aliases")
        for alias, alias_node in zip(aliases, items["aliases"].value, strict=True):
            if not _NAME.match(alias):
                raise r.fail(alias_node, f"{what}.aliases: {alias!r} is not a valid service name")
    return Service(name, port, command, env, probes, docker, timeout, aliases)


def _edge(r: _Reader, node: yaml.Node, services: dict[str, Service]) -> Edge:
    items = r.mapping(node, "edge")
    r.only(items, {"from", "to", "env", "proxy_port", "http_proxy_port"}, "edge", node)
    ends = []
    for key in ("from", "to"):
        value_node = r.require(items, key, "edge", node)
        value = r.string(value_node, f"edge.{key}")
        if value not in services:
            raise r.fail(value_node, f"edge.{key}: {value!r} is not one of the services")
        ends.append(value)
    if ends[0] == ends[1]:
        raise r.fail(node, "edge: a service cannot depend on itself")
    env_node = r.require(items, "env", "edge", node)
    env = r.string(env_node, "edge.env")
    if not _ENV_NAME.match(env):
        raise r.fail(env_node, f"edge.env: {env!r} is not a valid variable name")
    proxy_port = r.integer(r.require(items, "proxy_port", "edge", node), "edge.proxy_port", 1, 65535)
    http_proxy_port = None
    if "http_proxy_port" in items:
        http_proxy_port = r.integer(items["http_proxy_port"], "edge.http_proxy_port", 1, 65535)
    return Edge(ends[0], ends[1], env, proxy_port, http_proxy_port)


def _monitoring(r: _Reader, node: yaml.Node, path: Path) -> MonitoringSpec:
    items = r.mapping(node, "monitoring")
    r.only(items, {"enabled", "rules", "scrape_interval_s"}, "monitoring", node)
    enabled = False
    if "enabled" in items:
        value = items["enabled"]
        if not isinstance(value, yaml.ScalarNode) or value.value.lower() not in ("true", "false"):
            raise r.fail(value, "monitoring.enabled must be true or false")
        enabled = value.value.lower() == "true"
    rules: tuple[Path, ...] = ()
    if "rules" in items:
        rules = tuple((path.parent / rule).resolve() for rule in r.strings(items["rules"], "monitoring.rules"))
    interval = 1.0
    if "scrape_interval_s" in items:
        interval = r.number(items["scrape_interval_s"], "monitoring.scrape_interval_s")
    return MonitoringSpec(enabled, rules, interval)
