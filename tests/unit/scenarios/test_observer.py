"""The observer over the system client: samples, errors as samples, reported transitions merged once."""

from __future__ import annotations

import httpx

from core.journal import Journal
from scenarios.observer import Observer
from system.client import SystemClient


def observer(transport: httpx.MockTransport, journal: Journal) -> Observer:
    return Observer(SystemClient("http://127.0.0.1:9", transport=transport), journal, clock=lambda: 100.0)


def test_observer_unreachable_status_is_a_sample_with_the_error_name() -> None:
    """No answer from /status gives a sample with no mode and the httpx error's name, not an exception."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    journal = Journal()
    sample = observer(httpx.MockTransport(refuse), journal).sample_now()
    assert (sample.mode, sample.breakers, sample.error) == (None, {}, "ConnectError")
    assert [e.type for e in journal.events] == ["mode_observed"]


def test_observer_merges_each_reported_transition_once() -> None:
    """A transition listed in two answers is kept and journaled once, before the mode it came with."""
    body = {"mode": "normal", "dependencies": {"llm": {"breaker": "closed", "transitions": [
        {"from": "open", "to": "closed", "at": "2026-01-01T00:00:00+00:00"}]}}}
    journal = Journal()
    obs = observer(httpx.MockTransport(lambda request: httpx.Response(200, json=body)), journal)
    first, second = obs.sample_now(), obs.sample_now()
    assert first.breakers == second.breakers == {"llm": "closed"} and first.mode == "normal"
    assert [t[1:] for t in obs.transitions("llm")] == [("open", "closed")]
    assert [e.type for e in journal.events] == ["breaker_transition", "mode_observed"]
