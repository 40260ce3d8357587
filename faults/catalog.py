"""Every fault kind by name, and the one-line syntax users type for them.

    KIND:TARGET[:PARAM=VALUE,...]      e.g.  latency:vector-db:latency_ms=300,jitter_ms=20
                                             partition:llm     kill:vector-db     pause:llm
                                             http_error:llm:status=503,probability=0.5

Parameter values are converted to the type the spec declares (numbers, directions); the spec's own
``validate()`` then checks ranges. Every mistake raises ``FaultParameterError`` (exit code 2) naming
the fault and the parameter, before anything touches the system.
"""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum
from typing import Any

from core.errors import FaultParameterError

from core.topology import Topology

from .base import FaultSpec


def fault_kinds() -> dict[str, type[FaultSpec]]:
    """All fault spec classes by kind name."""
    from . import docker_specs, network_specs, service
    from .http import specs as http_specs

    classes: list[type[FaultSpec]] = [
        *service.SERVICE_FAULTS,
        *network_specs.NETWORK_FAULTS,
        *http_specs.HTTP_FAULTS,
        *docker_specs.DOCKER_FAULTS,
    ]
    return {cls.kind: cls for cls in classes}


def parse_fault(text: str) -> FaultSpec:
    """Parse ``KIND:TARGET[:PARAM=VALUE,...]`` into a validated spec."""
    parts = text.split(":", 2)
    kinds = fault_kinds()
    kind = parts[0].strip()
    if kind not in kinds:
        raise FaultParameterError(kind or "fault", "kind", f"is unknown (known: {', '.join(sorted(kinds))})")
    if len(parts) < 2 or not parts[1].strip():
        raise FaultParameterError(kind, "target", "is missing: write KIND:TARGET[:PARAM=VALUE,...]")
    values: dict[str, str] = {}
    if len(parts) == 3 and parts[2].strip():
        for item in parts[2].split(","):
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise FaultParameterError(kind, item.strip(), "must be written PARAM=VALUE")
            values[name.strip()] = value.strip()
    return build_fault(kinds[kind], parts[1].strip(), values)


def build_fault(cls: type[FaultSpec], target: str, values: dict[str, str]) -> FaultSpec:
    """Instantiate ``cls`` from string values, converting each to its declared type, then validate."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "target"}
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in fields:
            known = ", ".join(fields) or "none"
            raise FaultParameterError(cls.kind, name, f"is not a parameter of {cls.kind} (parameters: {known})")
        kwargs[name] = _convert(cls.kind, name, raw, hints[name])
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise FaultParameterError(cls.kind, missing[0], "is required")
    spec = cls(target=target, **kwargs)
    spec.validate()
    return spec


def _convert(kind: str, name: str, raw: str, annotation: Any) -> Any:
    optional = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(optional) == 1 and type(None) in typing.get_args(annotation):
        annotation = optional[0]  # ``int | None``: an optional parameter, given here
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return annotation(raw)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in annotation)
            raise FaultParameterError(kind, name, f"must be one of {allowed}, got {raw!r}") from None
    converters: dict[Any, Any] = {int: int, float: float, str: str, bool: _boolean}
    convert = converters.get(annotation)
    if convert is None:
        raise FaultParameterError(kind, name, "cannot be set from the command line")
    try:
        return convert(raw)
    except ValueError:
        raise FaultParameterError(kind, name, f"must be a {annotation.__name__}, got {raw!r}") from None


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def check_target(topology: Topology, spec: FaultSpec) -> None:
    """Refuse a fault whose target the topology does not have, before anything is sent."""
    from .http.specs import HttpFault, resolve_route
    from .network_specs import NetworkFault, resolve_edge

    if isinstance(spec, NetworkFault):
        resolve_edge(topology, spec)
    elif isinstance(spec, HttpFault):
        resolve_route(topology, spec)
    elif spec.target not in topology.services:
        known = ", ".join(sorted(topology.services))
        raise FaultParameterError(spec.kind, "target", f"{spec.target!r} is not a service (known: {known})")
