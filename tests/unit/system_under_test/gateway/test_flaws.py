"""The flawed variants: each one really has its mistake, and the reference does not."""

from __future__ import annotations

import asyncio
import random
from typing import Any, cast

import pybreaker
import pytest

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.common.env import SettingsError
from system_under_test.gateway import flaws
from system_under_test.gateway.breaker import BreakerConfig, BreakerState, RateBreaker
from system_under_test.gateway.chat import ChatService
from system_under_test.gateway.client import CallTrace, DependencyClient
from system_under_test.gateway.errors import DependencyUnavailable
from system_under_test.gateway.faq import DEFAULT_FAQ_PATH, Faq
from system_under_test.gateway.modes import Mode
from system_under_test.gateway.monitor import HealthMonitor
from system_under_test.gateway.retry import Backoff, Deadline
from system_under_test.gateway.settings import GatewaySettings
from system_under_test.gateway.variants import Flaw, parse_flaw


def test_unknown_variant_names_the_known_ones() -> None:
    """A typo in GATEWAY_VARIANT is a settings error that lists every valid name."""
    with pytest.raises(SettingsError, match="GATEWAY_VARIANT: unknown variant 'no-fallbak'.*no-fallback"):
        GatewaySettings.from_env({"GATEWAY_VARIANT": "no-fallbak"})
    assert parse_flaw("reference") is None and parse_flaw("") is None
    assert GatewaySettings.from_env({"GATEWAY_VARIANT": "stuck-open"}).variant is Flaw.STUCK_OPEN


def test_pybreaker_decorator_on_async_def_never_opens() -> None:
    """The fact behind the textbook variant: pybreaker sees the coroutine's creation succeed, every time."""
    breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=30)

    @breaker
    async def search() -> None:
        raise ConnectionError("refused")

    async def main() -> int:
        failures = 0
        for _ in range(10):
            try:
                await search()
            except ConnectionError:
                failures += 1
        return failures

    assert asyncio.run(main()) == 10
    assert breaker.current_state == "closed" and breaker.fail_counter == 0


@pytest.mark.parametrize(("breaker_type", "error", "opens"), [
    (RateBreaker, "ConnectError", True),
    (RateBreaker, "Timeout", True),
    (flaws.TextbookBreaker, "ConnectError", False),
    (flaws.TimeoutBlindBreaker, "Timeout", False),
    (flaws.TimeoutBlindBreaker, "ConnectError", True),
])
def test_breakers_open_or_not(breaker_type: type[RateBreaker], error: str, opens: bool) -> None:
    """Ten failures in a row open the reference breaker; the flawed ones stay closed for their error."""
    breaker = breaker_type("vector-db", BreakerConfig(consecutive_failures=5))
    for _ in range(10):
        if breaker.allows_calls:
            breaker.record_failure(breaker.acquire(), error)
    assert (breaker.state is BreakerState.OPEN) is opens


def test_configuration_flaws() -> None:
    """no-deadline, retry-storm and stuck-open are settings; every other variant keeps the reference ones."""
    base = GatewaySettings()
    no_deadline = flaws.adjust_settings(GatewaySettings(variant=Flaw.NO_DEADLINE))
    assert no_deadline.request_deadline_s > 1000 and no_deadline.retrieval_budget_s > 1000
    storm = flaws.adjust_settings(GatewaySettings(variant=Flaw.RETRY_STORM))
    assert storm.backoff.delay(2, random.Random(1)) == storm.backoff.ceiling(2)
    assert storm.retry_budget_ratio == 1.0 and storm.retry_budget_min_per_s > 1000
    stuck = flaws.adjust_settings(GatewaySettings(variant=Flaw.STUCK_OPEN))
    assert stuck.llm.breaker.reset_timeout_s > 1000 and stuck.vectordb.breaker.reset_timeout_s > 1000
    assert flaws.adjust_settings(GatewaySettings(variant=Flaw.WRONG_MODE)) == GatewaySettings(variant=Flaw.WRONG_MODE)
    assert Backoff().delay(2, random.Random(1)) < Backoff().ceiling(2)
    assert base.request_deadline_s == 35.0


def test_only_wrong_mode_misreports_the_status() -> None:
    """/status says normal while no context is used only in the wrong-mode variant."""
    assert flaws.reported_mode(Flaw.WRONG_MODE, Mode.DEGRADED_NO_CONTEXT) is Mode.NORMAL
    assert flaws.reported_mode(Flaw.WRONG_MODE, Mode.STATIC_ONLY) is Mode.STATIC_ONLY
    assert flaws.reported_mode(None, Mode.DEGRADED_NO_CONTEXT) is Mode.DEGRADED_NO_CONTEXT


def test_only_early_ready_claims_to_have_started() -> None:
    """Started before the index and the first probes only in the early-ready variant."""
    assert flaws.reported_started(Flaw.EARLY_READY, False) is True
    assert flaws.reported_started(None, False) is False
    assert flaws.reported_started(Flaw.WRONG_MODE, False) is False
    assert flaws.reported_started(None, True) is True


def test_only_early_ready_loads_the_index_in_the_background() -> None:
    """The reference has loaded its index when start-up returns; early-ready leaves a task still loading."""

    async def main(flaw: Flaw | None) -> tuple[bool, int]:
        release, loaded = asyncio.Event(), asyncio.Event()

        async def load() -> None:
            if flaw is Flaw.EARLY_READY:
                await release.wait()
            loaded.set()

        tasks = await flaws.load_index(flaw, load)
        done_at_return = loaded.is_set()
        release.set()
        await asyncio.gather(*tasks)
        return done_at_return, len(tasks)

    assert asyncio.run(main(None)) == (True, 0)
    assert asyncio.run(main(Flaw.EARLY_READY)) == (False, 1)


# -- the chat variants, with scripted dependencies ---------------------------------------------------


class ScriptedClient:
    """Stands in for a DependencyClient: answers from a table, or fails as if the dependency were dead."""

    def __init__(self, name: str, answers: dict[str, dict[str, Any]] | None) -> None:
        self.name = name
        self.breaker = RateBreaker(name)
        self.settings = GatewaySettings().vectordb
        self.answers = answers
        self.calls: list[str] = []

    async def post_json(self, path: str, body: dict[str, Any], deadline: Deadline, trace: CallTrace,
                        *, retry: bool = True) -> dict[str, Any]:
        self.calls.append(path)
        if self.answers is None:
            trace.outcome = "ConnectError"
            raise DependencyUnavailable(self.name)
        trace.outcome = "ok"
        return self.answers.get(path, {})

    async def probe(self, path: str, timeout: float) -> str | None:
        self.calls.append(path)
        return None if self.answers is not None else "ConnectError"


class AlwaysHealthy:
    def healthy(self, name: str) -> bool:
        return True


VECTORDB = {"/search": {"hits": [{"id": "p1", "title": "Refunds", "text": "Refunds at the counter.", "score": 0.9}]},
            "/cache/search": {"hit": {"query": "q", "answer": "cached answer", "similarity": 0.99}}}
LLM = {"/v1/chat/completions": {"choices": [{"message": {"content": "an answer"}}]}}


def chat(flaw: Flaw | None, vectordb: dict[str, Any] | None, llm: dict[str, Any] | None) -> tuple[ChatService, ScriptedClient]:
    vec, gen = ScriptedClient("vector-db", vectordb), ScriptedClient("llm", llm)
    faq = Faq.load(DEFAULT_FAQ_PATH, HashingEmbedder(), 0.5)
    service = flaws.chat_class(flaw)(GatewaySettings(cache_answers=False), cast(DependencyClient, vec),
                                     cast(DependencyClient, gen), cast(HealthMonitor, AlwaysHealthy()), faq)
    return service, vec


def answer(service: ChatService) -> Any:
    return asyncio.run(service.answer("How do I get a refund?", "en"))


def test_wrong_mode_labels_answers_without_context_normal() -> None:
    """With the vector-db dead the reference says degraded-no-context with a notice; the variant says normal."""
    reference, _ = chat(None, None, LLM)
    flawed, _ = chat(Flaw.WRONG_MODE, None, LLM)
    assert answer(reference).mode is Mode.DEGRADED_NO_CONTEXT and answer(reference).notice
    outcome = answer(flawed)
    assert outcome.mode is Mode.NORMAL and outcome.notice is None


def test_no_fallback_raises_where_the_reference_degrades() -> None:
    """A dead LLM gives the reference a cached answer; the no-fallback variant raises (a 500 in the app)."""
    reference, _ = chat(None, VECTORDB, None)
    assert answer(reference).mode is Mode.DEGRADED_CACHE_ONLY
    flawed, _ = chat(Flaw.NO_FALLBACK, VECTORDB, None)
    with pytest.raises(flaws.DependencyFailed, match="llm"):
        answer(flawed)


def test_cache_ignored_never_asks_the_cache() -> None:
    """Without the LLM the reference answers from the cache; the variant gives the busy message uncached."""
    reference, _ = chat(None, VECTORDB, None)
    assert answer(reference).cached is True
    flawed, vec = chat(Flaw.CACHE_IGNORED, VECTORDB, None)
    outcome = answer(flawed)
    assert outcome.mode is Mode.DEGRADED_CACHE_ONLY and outcome.cached is False
    assert "/cache/search" not in vec.calls


def test_health_check_per_request_probes_before_every_answer() -> None:
    """The variant sends a readiness request to each dependency per question; the reference sends none."""
    reference, vec = chat(None, VECTORDB, LLM)
    answer(reference)
    assert vec.calls == ["/search"]
    flawed, vec = chat(Flaw.HEALTH_CHECK_PER_REQUEST, VECTORDB, LLM)
    assert answer(flawed).mode is Mode.NORMAL
    assert vec.calls == ["/health/ready", "/search"]


def test_every_flaw_is_described() -> None:
    """docs/detection.md lists a description per variant; none may be missing."""
    from system_under_test.gateway.variants import DESCRIPTIONS

    assert set(DESCRIPTIONS) == set(Flaw)
