"""Schemathesis against the real gateway: generated requests never get a 5xx and answers match its schema.

The gateway's own ``/openapi.json`` is fetched over HTTP from the running reference system, then each
operation is fuzzed with seeded, bounded Hypothesis runs in four states of its dependencies:

    world            killed               /chat must answer in
    all-up           -                    normal
    vector-db-down   vector-db            degraded-no-context
    both-down        vector-db, llm       static-only
    llm-down         llm                  degraded-cache-only

A dependency failure must never become a server error ("degrading is the answer"), so the degraded
worlds run the very same checks as the healthy one. A world is one value of a module-scoped
parametrized fixture: pytest runs every operation in one world, restarts what was killed and waits
for normal mode, then moves to the next.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from system.local.supervisor import LocalSupervisor

from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The operations the chatbot contract names (docs/design.md); /metrics is excluded from the schema.
CHAT = "POST /chat"
CHAT_STREAM = "POST /chat/stream"
PROBES = ("GET /health/live", "GET /health/ready", "GET /health/startup")
OPERATIONS = (CHAT, CHAT_STREAM, "GET /status", *PROBES)

# Bounded and reproducible: a fixed number of derandomized examples, no example database on disk, and
# no per-example deadline (these are real HTTP round trips; the client timeout bounds each one instead).
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
REQUEST_TIMEOUT_S = 10.0
MAX_STREAM_EVENTS = 10_000  # more than any answer has (the LLM caps answers at its max_tokens)

UNDECODABLE = b'{"message": "\xff"}'  # JSON-shaped, but the byte 0xff is not UTF-8


CHECKS: list[schemathesis.CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]


@dataclass(frozen=True)
class World:
    """One state of the dependencies: which services are dead and the mode /chat must then answer in."""

    name: str
    killed: tuple[str, ...]
    mode: str


WORLDS = (
    World("all-up", (), "normal"),
    World("vector-db-down", ("vector-db",), "degraded-no-context"),
    World("both-down", ("vector-db", "llm"), "static-only"),
    World("llm-down", ("llm",), "degraded-cache-only"),
)


def status(system: LocalSupervisor) -> dict[str, Any]:
    response = httpx.get(system.address("gateway") + "/status", timeout=5.0, trust_env=False)
    body: dict[str, Any] = response.json()
    return body


def back_to_normal(system: LocalSupervisor) -> None:
    """Restart whatever is dead, then send traffic until the gateway is normal with every breaker closed."""
    system.start_all()

    def normal() -> bool:
        httpx.post(
            system.address("gateway") + "/chat",
            json={"message": "How much is a lost Tsubame Card?", "user_id": "schema"},
            timeout=REQUEST_TIMEOUT_S,
            trust_env=False,
        )
        current = status(system)
        breakers = {d["breaker"] for d in current["dependencies"].values()}
        return current["mode"] == "normal" and breakers == {"closed"}

    wait_until(normal, 20, "normal mode with every breaker closed", interval_s=0.2)


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis' caches (constants, unicode tables) go to a temporary directory, not ``./.hypothesis``."""
    # The example database is already off (database=None); this catches the rest of what it writes.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    try:
        yield
    finally:
        set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def schema(system: LocalSupervisor) -> schemathesis.BaseSchema:
    """The gateway's OpenAPI schema as the running gateway serves it; calls go to the same address."""
    # An explicit config, so a stray schemathesis.toml or environment variable cannot change the run. It
    # reads whole /chat/stream answers (Schemathesis stops at 20 events by default) so every event,
    # done included, is checked against the schema.
    config = schemathesis.Config.from_dict({"max-stream-events": MAX_STREAM_EVENTS})
    return schemathesis.openapi.from_url(system.address("gateway") + "/openapi.json", config=config, timeout=5.0)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One HTTP session for every generated call, ignoring proxy variables like the rest of the suite."""
    with requests.Session() as http:
        http.trust_env = False
        yield http


@pytest.fixture(scope="module", params=WORLDS, ids=lambda world: world.name)
def world(request: pytest.FixtureRequest, system: LocalSupervisor) -> Iterator[World]:
    """Kill the world's services (no waiting: the first cases meet still-closed breakers), restore after."""
    current: World = request.param
    for name in current.killed:
        os.kill(system.running()[name].pid, signal.SIGKILL)
    try:
        yield current
    finally:
        if current.killed:
            back_to_normal(system)


def fuzz(
    schema: schemathesis.BaseSchema,
    label: str,
    session: requests.Session,
    mode: schemathesis.GenerationMode,
    checks: list[schemathesis.CheckFunction],
) -> list[schemathesis.Response]:
    """Run the seeded examples of one operation in one generation mode; return every response seen."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from the gateway's schema"
    seen: list[schemathesis.Response] = []

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        seen.append(case.call_and_validate(session=session, checks=checks, timeout=REQUEST_TIMEOUT_S))

    run()
    # A test whose strategy generated nothing would pass having checked nothing.
    assert seen, f"{label} ({mode.value}): no example was generated, so no response was checked"
    return seen


def test_gateway_schema_lists_the_contract_operations(schema: schemathesis.BaseSchema) -> None:
    """The served schema documents exactly the operations the chatbot contract names."""
    labels = {f"{method.upper()} {path}" for path, methods in schema.raw_schema["paths"].items() for method in methods}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", PROBES)
def test_gateway_probe_documents_its_media_type(
    schema: schemathesis.BaseSchema, session: requests.Session, label: str
) -> None:
    """The probes' documented media type is the application/health+json they actually answer with."""
    fuzz(schema, label, session, schemathesis.GenerationMode.POSITIVE, [content_type_conformance])


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_gateway_chat_rejects_an_undecodable_body_with_422(system: LocalSupervisor, path: str) -> None:
    """A /chat (or /chat/stream) body that is not valid UTF-8 is invalid input: the contract's 422."""
    response = httpx.post(
        system.address("gateway") + path,
        content=UNDECODABLE,
        headers={"Content-Type": "application/json"},
        timeout=5.0,
        trust_env=False,
    )
    assert response.status_code == 422, f"{response.status_code} {response.text}"


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE], ids=lambda m: m.value
)
def test_gateway_chat_conforms_to_its_schema(
    schema: schemathesis.BaseSchema, session: requests.Session, world: World, mode: schemathesis.GenerationMode
) -> None:
    """Generated /chat requests never get a 5xx, valid ones get a conforming 200, invalid ones a 4xx."""
    responses = fuzz(schema, CHAT, session, mode, CHECKS)
    if mode is schemathesis.GenerationMode.POSITIVE:
        # Proves the state under test was really reached, not just configured.
        modes = {response.json()["mode"] for response in responses if response.status_code == 200}
        assert world.mode in modes, f"{world.name}: expected some {world.mode!r} answers, saw {modes}"


def stream_mode(response: schemathesis.Response) -> str:
    """The mode in a /chat/stream answer's meta event (the first event), after checking done comes last."""
    events = [block for block in response.text.split("\n\n") if block.strip()]
    assert events[0].startswith("event: meta\n") and events[-1].startswith("event: done\n"), response.text[:300]
    meta = json.loads(events[0].split("data: ", 1)[1])
    mode: str = meta["mode"]
    return mode


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE], ids=lambda m: m.value
)
def test_gateway_chat_stream_conforms_to_its_schema(
    schema: schemathesis.BaseSchema, session: requests.Session, world: World, mode: schemathesis.GenerationMode
) -> None:
    """Generated /chat/stream requests never get a 5xx; valid ones get a meta...done event stream in the world's mode."""
    responses = fuzz(schema, CHAT_STREAM, session, mode, CHECKS)
    if mode is schemathesis.GenerationMode.POSITIVE:
        modes = {stream_mode(response) for response in responses if response.status_code == 200}
        assert world.mode in modes, f"{world.name}: expected some {world.mode!r} streams, saw {modes}"


def test_gateway_status_conforms_to_its_schema(
    schema: schemathesis.BaseSchema, session: requests.Session, world: World
) -> None:
    """GET /status never answers 5xx and its answer matches the schema, whatever is down."""
    fuzz(schema, "GET /status", session, schemathesis.GenerationMode.POSITIVE, CHECKS)


@pytest.mark.parametrize("label", PROBES)
def test_gateway_probe_conforms_to_its_schema(
    schema: schemathesis.BaseSchema, session: requests.Session, world: World, label: str
) -> None:
    """The probes never answer 5xx while the gateway runs: a degraded gateway is still live, ready, started."""
    fuzz(schema, label, session, schemathesis.GenerationMode.POSITIVE, CHECKS)
