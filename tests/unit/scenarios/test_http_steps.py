"""The HTTP fault steps: each step's text builds the spec it should, and --dry-run shows and checks it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from core.errors import ConfigError
from core.topology import load_topology
from faults.http.specs import (
    CutAfter,
    Delay,
    ErrorEvent,
    FirstTokenDelay,
    HttpError,
    HttpFault,
    MalformedEvent,
    MalformedJson,
    RateLimit,
    TokenDelay,
    Truncate,
    WrongContentType,
)
from scenarios.features import plan
from scenarios.preview import PreviewContext, plan_scenarios, render
from scenarios.steps import http, vocabulary
from scenarios.vocabulary import PlanItem

LLM = ("POST", r"^/v1/chat/completions$")
VDB = ("POST", r"^/(cache/)?search$")
T = TypeVar("T", bound=HttpFault)


def on(cls: type[T], target: str, calls: tuple[str, str], **params: Any) -> T:
    """The spec a step should build: ``cls`` on ``target``, matching the dependency's API calls."""
    return cls(target=target, method=calls[0], path=calls[1], **params)


def preview(text: str) -> PlanItem:
    """The plan item of the one When step matching ``text`` (two matches would be ambiguous)."""
    entries = [e for e in vocabulary() if e.matches("when", text)]
    assert len(entries) == 1, f"{text!r} matches {len(entries)} steps"
    match = entries[0].pattern.fullmatch(text)
    assert match is not None and entries[0].preview is not None
    return entries[0].preview(PreviewContext(load_topology()), **match.groupdict())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"llm" answers 429 with Retry-After 2 s for 50% of requests',
         on(RateLimit, "llm", LLM, probability=0.5, retry_after_s=2.0, retry_after_format="seconds")),
        ('"llm" answers 429 with retry-after-ms 1500 for 50% of requests',
         on(RateLimit, "llm", LLM, probability=0.5, retry_after_s=1.5, retry_after_format="ms")),
        ('"llm" answers 429 with an HTTP-date Retry-After of 3 s for 25% of requests',
         on(RateLimit, "llm", LLM, probability=0.25, retry_after_s=3.0, retry_after_format="date")),
        ('"llm" is rate limited to 20 requests per second', on(RateLimit, "llm", LLM, requests=20)),
        ('"llm" is rate limited to 20 requests per second with Retry-After in ms',
         on(RateLimit, "llm", LLM, requests=20, retry_after_format="ms")),
        ('"llm" is rate limited to 5 requests per 2 seconds', on(RateLimit, "llm", LLM, requests=5, window_s=2.0)),
        ('"llm" answers 503 for 30% of requests', on(HttpError, "llm", LLM, probability=0.3, status=503)),
        ('"llm" fails with 529 for 100% of requests', on(HttpError, "llm", LLM, status=529)),
        ('"vector-db" fails with 503 for questions matching "運賃|fare"',
         on(HttpError, "vector-db", VDB, body="運賃|fare", status=503)),
        ('"vector-db" fails with 503 for 40% of questions matching "fare"',
         on(HttpError, "vector-db", VDB, body="fare", probability=0.4, status=503)),
        ('"llm" holds each request for 4 s', on(Delay, "llm", LLM, seconds=4.0, phase="request")),
        ('answers from "llm" are held 4 s', on(Delay, "llm", LLM, seconds=4.0, phase="response")),
        ('streamed answers from "llm" stall 4 s before the first token', on(FirstTokenDelay, "llm", LLM, seconds=4.0)),
        ('streamed answers from "llm" slow to 200 ms per token', on(TokenDelay, "llm", LLM, seconds=0.2)),
        ('streamed answers from "llm" are cut after 5 events', on(CutAfter, "llm", LLM, events=5)),
        ('streamed answers from "llm" are cut after 4 events for 30% of them',
         on(CutAfter, "llm", LLM, events=4, probability=0.3)),
        ('streamed answers from "llm" stall 8 s before the first token for 50% of them',
         on(FirstTokenDelay, "llm", LLM, seconds=8.0, probability=0.5)),
        ('answers from "vector-db" carry malformed JSON for 10% of them', on(MalformedJson, "vector-db", VDB, probability=0.1)),
        ('streamed answers from "llm" carry an error event after 3 events', on(ErrorEvent, "llm", LLM, after=3)),
        ('streamed answers from "llm" carry a malformed event at 2', on(MalformedEvent, "llm", LLM, at=2)),
        ('answers from "vector-db" are truncated after 100 bytes', on(Truncate, "vector-db", VDB, bytes=100)),
        ('answers from "vector-db" carry malformed JSON', on(MalformedJson, "vector-db", VDB)),
        ('answers from "vector-db" come with the wrong content type', on(WrongContentType, "vector-db", VDB)),
        ('streamed answers from "gateway-to-llm" are cut after 1 event', on(CutAfter, "gateway-to-llm", LLM, events=1)),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_http_step_text_builds_its_spec(text: str, expected: Any) -> None:
    """Each step (one match in the vocabulary) builds the spec it names, aimed at the dependency's API calls."""
    item = preview(text)
    assert item.kind == "fault"
    assert item.spec == expected
    assert item.text == expected.describe()


def test_http_step_removal_previews_a_revert() -> None:
    """"the HTTP faults on X are removed" is a revert in the plan."""
    item = preview('the HTTP faults on "llm" are removed')
    assert (item.kind, item.text, item.spec) == ("revert", "remove the HTTP faults on llm", None)


def test_http_step_calls_of_other_services_are_every_post() -> None:
    """A service the contract does not describe gets every POST (never its GET health probes)."""
    assert http.calls_of("search") == ("POST", "")
    assert http.calls_of("gateway-to-vector-db") == http.CALLS["vector-db"]


def test_http_step_seed_comes_from_the_scenario_seed() -> None:
    """The same scenario seed gives the same rule seed; another scenario seed, or a second fault, another."""
    def run(seed: int, active: int = 0) -> Any:
        scenario = SimpleNamespace(seed=seed, faults=SimpleNamespace(active=[None] * active))
        return SimpleNamespace(current=lambda: scenario)

    spec = HttpError("llm", status=503)
    first = http._seeded(run(7), spec).seed
    assert first == http._seeded(run(7), spec).seed
    assert first != http._seeded(run(8), spec).seed
    assert first != http._seeded(run(7, active=1), spec).seed


FEATURE = """\
Feature: Demo
  Scenario: LLM overloaded
    Given the system is running in "normal" mode
    When "llm" answers 529 for 100% of requests
    And 5 seconds pass
    When the HTTP faults on "llm" are removed
"""


def test_http_step_dry_run_plan_lists_the_fault_and_its_revert(tmp_path: Path) -> None:
    """--dry-run shows the HTTP fault with its parameters, then the removal."""
    path = tmp_path / "demo.feature"
    path.write_text(FEATURE)
    text = render(plan_scenarios(plan([path]), vocabulary(), PreviewContext(load_topology())))
    assert "t<=   0s  fault   http_error on llm (method=POST, path=^/v1/chat/completions$, status=529)" in text
    assert "t<=   5s  revert  remove the HTTP faults on llm" in text


@pytest.mark.parametrize(("step", "fragment"), [
    ('When "llm" answers 700 for 10% of requests', "'status'"),
    ('When "llm" answers 503 for 150% of requests', "'probability'"),
    ('When "vector-db" fails with 503 for questions matching "(fare"', "'body'"),
    ('When "redis" answers 503 for 10% of requests', "'redis'"),
])
def test_http_step_dry_run_refuses_bad_values_at_the_line(tmp_path: Path, step: str, fragment: str) -> None:
    """A bad status, percentage, regex or target is a ConfigError at the step's line, before anything runs."""
    path = tmp_path / "demo.feature"
    path.write_text(FEATURE.replace('When "llm" answers 529 for 100% of requests', step))
    with pytest.raises(ConfigError, match=rf"demo.feature:4: .*{fragment}"):
        plan_scenarios(plan([path]), vocabulary(), PreviewContext(load_topology()))
