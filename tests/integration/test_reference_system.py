"""The reference chatbot as three real processes on loopback: every mode, reached by killing services.

The tests run in file order on one system (module fixture); each one leaves the system normal again.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx
import pytest

from system.local.supervisor import LocalSupervisor

from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION_EN = "How much does it cost to reissue a lost Tsubame Card?"
QUESTION_JA = "つばめカードを紛失した場合、再発行の手数料はいくらですか？"


def chat(system: LocalSupervisor, message: str, lang: str = "ja") -> dict[str, Any]:
    response = httpx.post(
        system.address("gateway") + "/chat",
        json={"message": message, "user_id": "it"},
        headers={"Accept-Language": lang},
        timeout=40.0,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def status(system: LocalSupervisor) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(system.address("gateway") + "/status", timeout=5.0, trust_env=False).json()
    return body


def kill(system: LocalSupervisor, service: str) -> None:
    record = system.running()[service]
    os.kill(record.pid, signal.SIGKILL)


def back_to_normal(system: LocalSupervisor) -> dict[str, Any]:
    """Restart whatever is dead, then wait (sending traffic) until the gateway reports normal mode."""
    system.start_all()

    def normal() -> dict[str, Any] | None:
        chat(system, QUESTION_EN, "en")
        current = status(system)
        breakers = {d["breaker"] for d in current["dependencies"].values()}
        return current if current["mode"] == "normal" and breakers == {"closed"} else None

    return wait_until(normal, 20, "normal mode with every breaker closed", interval_s=0.2)


def test_reference_normal_mode_answers_with_sources(system: LocalSupervisor) -> None:
    """With everything up, an answer is grounded in retrieved passages and carries no notice."""
    body = chat(system, QUESTION_EN, "en")
    assert body["mode"] == "normal"
    assert body["notice"] is None
    assert body["sources"] and all({"id", "title", "score"} <= set(s) for s in body["sources"])
    assert body["request_id"] and body["cached"] is False
    assert status(system)["mode"] == "normal"


def test_reference_vectordb_killed_degrades_to_no_context_then_recovers(system: LocalSupervisor) -> None:
    """Killing vector-db gives degraded-no-context with a notice; restarting it returns to normal via half-open."""
    kill(system, "vector-db")
    body = chat(system, QUESTION_EN, "en")
    assert body["mode"] == "degraded-no-context"
    assert body["notice"] and "unavailable" in body["notice"]
    assert body["sources"] == []
    japanese = chat(system, QUESTION_JA, "ja")
    assert japanese["notice"] and "検索" in japanese["notice"]

    def breaker_open() -> dict[str, Any] | None:
        chat(system, QUESTION_EN, "en")
        current = status(system)
        return current if current["dependencies"]["vector-db"]["breaker"] == "open" else None

    opened = wait_until(breaker_open, 10, "the vector-db breaker to open")
    assert opened["mode"] == "degraded-no-context"
    assert opened["dependencies"]["vector-db"]["last_error"]

    recovered = back_to_normal(system)
    sequence = [t["to"] for t in recovered["dependencies"]["vector-db"]["transitions"]]
    assert sequence[-3:] == ["open", "half-open", "closed"]


def test_reference_llm_killed_serves_cache_or_busy_message(system: LocalSupervisor) -> None:
    """Without the LLM, an earlier question is answered from the cache and a new one gets the busy message."""
    normal = chat(system, QUESTION_JA, "ja")
    assert normal["mode"] == "normal"
    vectordb = system.address("vector-db")

    def cached() -> bool:
        hit = httpx.post(vectordb + "/cache/search", json={"query": QUESTION_JA}, timeout=5.0, trust_env=False)
        return bool(hit.json()["hit"])

    wait_until(cached, 5, "the normal answer to reach the cache")
    kill(system, "llm")

    again = chat(system, QUESTION_JA, "ja")
    assert again["mode"] == "degraded-cache-only"
    assert again["cached"] is True
    assert again["message"] == normal["message"]
    assert again["notice"]

    new = chat(system, "Can I bring a surfboard on the night bus to the airport?", "en")
    assert new["mode"] == "degraded-cache-only"
    assert new["cached"] is False
    assert "busy" in new["message"].lower()
    back_to_normal(system)


def test_reference_both_down_is_static_only_with_a_faq_answer(system: LocalSupervisor) -> None:
    """With vector-db and the LLM both dead, a FAQ question gets a FAQ answer in static-only mode."""
    kill(system, "vector-db")
    kill(system, "llm")
    body = chat(system, QUESTION_EN, "en")
    assert body["mode"] == "static-only"
    assert body["notice"] and "maintenance" in body["notice"]
    assert "maintenance" not in body["message"].lower(), "a FAQ question should get the FAQ's answer"
    unknown = chat(system, "Quelle est la couleur du ciel sur Mars?", "en")
    assert unknown["mode"] == "static-only"
    assert "maintenance" in unknown["message"].lower()
    wait_until(lambda: status(system)["mode"] == "static-only", 10, "the status to report static-only")
    back_to_normal(system)


def test_reference_bad_input_gets_422_naming_the_field(system: LocalSupervisor) -> None:
    """An empty message is refused with 422 and the error names the 'message' field."""
    response = httpx.post(
        system.address("gateway") + "/chat", json={"message": "", "user_id": "x"}, timeout=5.0, trust_env=False
    )
    assert response.status_code == 422
    assert any(err["loc"][-1] == "message" for err in response.json()["detail"])


def test_reference_probes_and_metrics_follow_the_contract(system: LocalSupervisor) -> None:
    """Probes answer application/health+json and /metrics exposes the chatbot's series."""
    base = system.address("gateway")
    for path in ("/health/live", "/health/ready", "/health/startup"):
        response = httpx.get(base + path, timeout=5.0, trust_env=False)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/health+json")
        assert response.json()["status"] == "pass"
    metrics = httpx.get(base + "/metrics", timeout=5.0, trust_env=False).text
    for series in ("chatbot_requests_total", "chatbot_breaker_state", "chatbot_dependency_calls_total",
                   "chatbot_request_duration_seconds_bucket", "chatbot_retries_total"):
        assert series in metrics
