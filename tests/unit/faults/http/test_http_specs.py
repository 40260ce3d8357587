"""HTTP fault specs: bad values refused naming the parameter, rules as the proxy takes them, the CLI syntax."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.errors import ExitCode, FaultParameterError
from core.topology import DEFAULT_TOPOLOGY, Edge, Topology, load_topology
from faults.base import FaultSpec
from faults.catalog import check_target, fault_kinds, parse_fault
from faults.http.specs import (
    HTTP_FAULTS,
    RULE_PREFIX,
    CutAfter,
    Delay,
    ErrorEvent,
    FirstTokenDelay,
    HttpError,
    MalformedEvent,
    MalformedJson,
    RateLimit,
    TokenDelay,
    Truncate,
    WrongContentType,
    resolve_route,
)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(DEFAULT_TOPOLOGY)


@pytest.mark.parametrize(
    ("spec", "parameter"),
    [
        (HttpError("", status=503), "target"),
        (HttpError("llm", status=503, method="PO ST"), "method"),
        (HttpError("llm", status=503, path="(unclosed"), "path"),
        (HttpError("llm", status=503, body="[a-"), "body"),
        (HttpError("llm", status=503, probability=0), "probability"),
        (HttpError("llm", status=503, probability=1.5), "probability"),
        (HttpError("llm", status=503, probability=True), "probability"),
        (HttpError("llm", status=503, seed=-1), "seed"),
        (HttpError("llm", status=399), "status"),
        (HttpError("llm", status=600), "status"),
        (HttpError("llm", status=503, retry_after_s=-1), "retry_after_s"),
        (HttpError("llm", status=503, error_body=7), "error_body"),  # type: ignore[arg-type]
        (RateLimit("llm", requests=0), "requests"),
        (RateLimit("llm", window_s=0), "window_s"),
        (RateLimit("llm", retry_after_s=3601), "retry_after_s"),
        (RateLimit("llm", retry_after_format="weeks"), "retry_after_format"),
        (RateLimit("llm", status=200), "status"),
        (Delay("llm", seconds=-0.1), "seconds"),
        (Delay("llm", seconds=3601), "seconds"),
        (Delay("llm", seconds=1, phase="later"), "phase"),
        (FirstTokenDelay("llm", seconds=-1), "seconds"),
        (TokenDelay("llm", seconds="fast"), "seconds"),  # type: ignore[arg-type]
        (CutAfter("llm", events=-1), "events"),
        (CutAfter("llm", events=1.5), "events"),  # type: ignore[arg-type]
        (ErrorEvent("llm", after=-1), "after"),
        (ErrorEvent("llm", after=1, type=" "), "type"),
        (ErrorEvent("llm", after=1, message=None), "message"),  # type: ignore[arg-type]
        (MalformedEvent("llm", at=-1), "at"),
        (Truncate("vector-db", bytes=-1), "bytes"),
        (MalformedJson("vector-db", probability=-0.5), "probability"),
        (WrongContentType("vector-db", content_type=""), "content_type"),
        (WrongContentType("vector-db", content_type="text/html\r\nX-Evil: 1"), "content_type"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_http_spec_bad_value_names_the_parameter(spec: FaultSpec, parameter: str) -> None:
    """Every invalid value raises FaultParameterError (exit 2) naming the kind and the parameter."""
    with pytest.raises(FaultParameterError) as caught:
        spec.validate()
    assert caught.value.parameter == parameter
    assert caught.value.fault == spec.kind
    assert f"parameter {parameter!r}" in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    "spec",
    [
        HttpError("llm", status=400, probability=1e-6, retry_after_s=0),
        HttpError("llm", status=599, method="post", path="^/v1/", body="運賃|fare"),
        RateLimit("llm", requests=1, window_s=0.001, retry_after_s=3600, retry_after_format="date"),
        RateLimit("llm", retry_after_format="none"),
        Delay("llm", seconds=0, phase="response"),
        FirstTokenDelay("llm", seconds=3600),
        TokenDelay("llm", seconds=0),
        CutAfter("llm", events=0),
        ErrorEvent("llm", after=0),
        MalformedEvent("llm", at=0),
        Truncate("vector-db", bytes=0),
        MalformedJson("vector-db"),
        WrongContentType("vector-db"),
    ],
    ids=lambda spec: spec.kind,
)
def test_http_spec_boundary_values_are_accepted(spec: FaultSpec) -> None:
    """Values at the edge of each range validate without error."""
    spec.validate()


def test_http_spec_kinds_are_the_contracts_eleven() -> None:
    """The kinds are exactly those the proxy knows, each registered in the catalog."""
    kinds = {cls.kind for cls in HTTP_FAULTS}
    assert kinds == {"http_error", "rate_limit", "delay", "first_token_delay", "token_delay", "cut_after",
                     "error_event", "malformed_event", "truncate", "malformed_json", "wrong_content_type"}
    assert kinds <= set(fault_kinds())


@pytest.mark.parametrize(
    ("spec", "params"),
    [
        (HttpError("llm", status=503), {"status": 503}),
        (HttpError("llm", status=429, error_body="{}", retry_after_s=2), {"status": 429, "body": "{}", "retry_after_s": 2.0}),
        (RateLimit("llm"), {"window_s": 1.0, "retry_after_format": "seconds", "status": 429}),
        (RateLimit("llm", requests=20, retry_after_s=1.5, retry_after_format="ms"),
         {"requests": 20, "window_s": 1.0, "retry_after_s": 1.5, "retry_after_format": "ms", "status": 429}),
        (Delay("llm", seconds=4), {"seconds": 4.0, "phase": "request"}),
        (FirstTokenDelay("llm", seconds=8), {"seconds": 8.0}),
        (TokenDelay("llm", seconds=0.2), {"seconds": 0.2}),
        (CutAfter("llm", events=5), {"events": 5}),
        (ErrorEvent("llm", after=3), {"after": 3, "type": "overloaded_error"}),
        (ErrorEvent("llm", after=3, type="api_error", message="boom"), {"after": 3, "type": "api_error", "message": "boom"}),
        (MalformedEvent("llm", at=2), {"at": 2}),
        (Truncate("vector-db", bytes=100), {"bytes": 100}),
        (MalformedJson("vector-db"), {}),
        (WrongContentType("vector-db"), {"content_type": "text/html; charset=utf-8"}),
    ],
    ids=lambda value: value.kind if isinstance(value, FaultSpec) else None,
)
def test_http_spec_to_rule_carries_kind_match_probability_seed_and_params(spec: Any, params: dict[str, Any]) -> None:
    """The rule is the contract's JSON: optional params left out when unset, a harness- id, the seed given."""
    rule = spec.to_rule(42)
    assert rule["kind"] == spec.kind
    assert rule["params"] == params
    assert rule["seed"] == 42 and rule["probability"] == 1.0 and rule["match"] == {}
    assert re.fullmatch(rf"{RULE_PREFIX}{spec.kind}-[0-9a-f]{{6}}", rule["id"])


def test_http_spec_rule_match_keeps_only_the_given_fields_and_ids_differ() -> None:
    """Empty match fields are left out (they match everything); the method is upper-cased; ids are unique."""
    spec = HttpError("vector-db", status=503, method="post", body="運賃|fare", probability=0.25, seed=9)
    first, second = spec.to_rule(), spec.to_rule()
    assert first["match"] == {"method": "POST", "body": "運賃|fare"}
    assert first["probability"] == 0.25 and first["seed"] == 9  # the spec's own seed without an override
    assert first["id"] != second["id"]


def test_http_spec_describe_shows_only_what_differs_from_the_defaults() -> None:
    """Labels in timelines stay short: defaults (and the seed) are not repeated."""
    assert HttpError("llm", status=503, probability=0.5, seed=3).describe() == "http_error on llm (probability=0.5, status=503)"
    assert MalformedJson("vector-db").describe() == "malformed_json on vector-db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http_error:llm:status=503,probability=0.5", HttpError("llm", status=503, probability=0.5)),
        ("http_error:llm:status=429,retry_after_s=2,error_body=slow down",
         HttpError("llm", status=429, retry_after_s=2.0, error_body="slow down")),
        ("rate_limit:llm:requests=20,window_s=2,retry_after_format=ms",
         RateLimit("llm", requests=20, window_s=2.0, retry_after_format="ms")),
        ("rate_limit:llm", RateLimit("llm")),
        ("delay:vector-db:seconds=4,phase=response", Delay("vector-db", seconds=4.0, phase="response")),
        ("first_token_delay:llm:seconds=8", FirstTokenDelay("llm", seconds=8.0)),
        ("token_delay:llm:seconds=0.2", TokenDelay("llm", seconds=0.2)),
        ("cut_after:llm:events=5", CutAfter("llm", events=5)),
        ("error_event:llm:after=3,type=api_error", ErrorEvent("llm", after=3, type="api_error")),
        ("malformed_event:llm:at=2", MalformedEvent("llm", at=2)),
        ("truncate:vector-db:bytes=100", Truncate("vector-db", bytes=100)),
        ("malformed_json:gateway-to-vector-db", MalformedJson("gateway-to-vector-db")),
        ("wrong_content_type:vector-db:content_type=text/plain", WrongContentType("vector-db", content_type="text/plain")),
        ("http_error:llm:status=503,method=POST,path=^/v1/,seed=7",
         HttpError("llm", status=503, method="POST", path="^/v1/", seed=7)),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_http_catalog_parses_each_kind(text: str, expected: FaultSpec, topology: Topology) -> None:
    """``harness fault`` syntax builds the same spec, optional numbers included, and its target resolves."""
    spec = parse_fault(text)
    assert spec == expected
    check_target(topology, spec)


@pytest.mark.parametrize(
    ("text", "parameter"),
    [
        ("rate_limit:llm:retry_after_format=weeks", "retry_after_format"),
        ("http_error:llm", "status"),
        ("http_error:llm:status=five", "status"),
        ("http_error:llm:status=503,body=(", "body"),
        ("rate_limit:llm:requests=2.5", "requests"),
        ("cut_after:llm:events=5,colour=red", "colour"),
    ],
)
def test_http_catalog_refuses_bad_input_naming_the_parameter(text: str, parameter: str) -> None:
    """Type, range, regex and unknown-parameter mistakes are one FaultParameterError naming the parameter."""
    with pytest.raises(FaultParameterError) as caught:
        parse_fault(text)
    assert caught.value.parameter == parameter


def test_http_target_resolves_a_service_or_an_edge(topology: Topology) -> None:
    """A service behind an edge and the edge's own name resolve to the same route."""
    assert resolve_route(topology, HttpError("llm", status=503)).name == "gateway-to-llm"
    assert resolve_route(topology, HttpError("gateway-to-vector-db", status=503)).name == "gateway-to-vector-db"


def test_http_target_unknown_or_without_a_route_is_refused(topology: Topology) -> None:
    """An unknown target, and an edge without http_proxy_port, are refused naming the target."""
    with pytest.raises(FaultParameterError, match="'nowhere' is neither a proxied edge"):
        check_target(topology, HttpError("nowhere", status=503))
    bare = Topology(topology.name, topology.host, topology.entry, topology.services,
                    tuple(Edge(e.source, e.target, e.env, e.proxy_port) for e in topology.edges),
                    topology.mode, topology.path)
    with pytest.raises(FaultParameterError, match="edge 'gateway-to-llm' has no HTTP fault route") as caught:
        check_target(bare, CutAfter("llm", events=1))
    assert caught.value.parameter == "target"
