"""``POST /chat/stream`` and the LLM's HTTP-level failures, against real processes on loopback.

Two systems: the reference one (real gateway, vector-db and LLM) for the normal and the LLM-killed
streams; and a gateway whose ``LLM_URL`` is a scripted misbehaving LLM (tests/integration/scripted_llm.py,
real aiohttp) for 429s with Retry-After, stalls, cuts, error and malformed events.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.ports import free_port_offset
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, load_topology
from system.local.supervisor import LocalSupervisor

from tests.integration.scripted_llm import Reply, ScriptedLlm, piece, scripted_llm
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How much does it cost to reissue a lost Tsubame Card?"
FIRST_TOKEN_S = 1.0
IDLE_S = 0.5
INTERRUPTED_EN = "interrupted"


@dataclass(frozen=True)
class Streamed:
    status: int
    events: list[tuple[str, dict[str, Any]]]
    elapsed_s: float

    @property
    def text(self) -> str:
        return "".join(data["text"] for name, data in self.events if name == "token")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    @property
    def meta(self) -> dict[str, Any]:
        return self.events[0][1]

    @property
    def done(self) -> dict[str, Any]:
        return self.events[-1][1]


def stream(base: str, message: str = QUESTION, lang: str = "en") -> Streamed:
    """POST /chat/stream and read every event as it comes (the connection must end on its own)."""
    started = time.monotonic()
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("POST", base + "/chat/stream", json={"message": message, "user_id": "it"},
                      headers={"Accept-Language": lang}, timeout=40.0, trust_env=False) as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
        status = response.status_code
    return Streamed(status, events, time.monotonic() - started)


def assert_well_formed(result: Streamed) -> None:
    assert result.status == 200
    assert result.names[0] == "meta" and result.names[-1] == "done", result.names
    assert set(result.names[1:-1]) == {"token"}, result.names
    assert result.done["tokens"] == result.names.count("token")


def metric(base: str, name: str, **labels: str) -> float:
    """The value of one series on the gateway's /metrics (0 when absent)."""
    text = httpx.get(base + "/metrics", timeout=5.0, trust_env=False).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


# -- the reference system -------------------------------------------------------------------------


def test_stream_normal_mode_relays_the_same_answer_as_chat(system: LocalSupervisor) -> None:
    """Normal mode: meta first (with sources), several tokens, done complete last; the text equals /chat's."""
    base = system.address("gateway")
    result = stream(base)
    assert_well_formed(result)
    assert result.meta["mode"] == "normal" and result.meta["notice"] is None and result.meta["sources"]
    assert result.names.count("token") >= 3
    assert result.done == {"outcome": "complete", "mode": "normal", "notice": None, "tokens": result.done["tokens"]}
    answer = httpx.post(base + "/chat", json={"message": QUESTION, "user_id": "it"},
                        headers={"Accept-Language": "en"}, timeout=40.0, trust_env=False).json()
    assert answer["mode"] == "normal"
    assert result.text == answer["message"]
    assert metric(base, "chatbot_stream_answers_total", mode="normal", outcome="complete") >= 1
    assert metric(base, "chatbot_stream_first_token_seconds_count", mode="normal") >= 1


def test_stream_with_the_llm_killed_streams_the_degraded_answer(system: LocalSupervisor) -> None:
    """Without the LLM the stream answers degraded-cache-only, as tokens, complete, with the mode's notice."""
    base = system.address("gateway")
    os.kill(system.running()["llm"].pid, signal.SIGKILL)
    try:
        result = stream(base, "Can I bring a surfboard on the night bus to the airport?")
        assert_well_formed(result)
        assert result.meta["mode"] == "degraded-cache-only" and result.meta["notice"]
        assert result.done["outcome"] == "complete" and result.done["mode"] == "degraded-cache-only"
        assert "busy" in result.text.lower()
    finally:
        system.start_all()
        wait_until(lambda: stream(base).meta["mode"] == "normal", 20, "normal mode again", interval_s=0.2)


def test_stream_invalid_input_gets_422(system: LocalSupervisor) -> None:
    """An empty message is refused with 422 naming the field, as on /chat."""
    response = httpx.post(system.address("gateway") + "/chat/stream", json={"message": "", "user_id": "x"},
                          timeout=5.0, trust_env=False)
    assert response.status_code == 422
    assert any(err["loc"][-1] == "message" for err in response.json()["detail"])


# -- a gateway in front of a scripted, misbehaving LLM ----------------------------------------------


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLlm]:
    with scripted_llm() as server:
        yield server


def scripted_env(llm: ScriptedLlm) -> dict[str, str]:
    return {
        "LLM_URL": llm.url,
        "GATEWAY_LLM_FIRST_TOKEN_TIMEOUT_S": str(FIRST_TOKEN_S),
        "GATEWAY_LLM_IDLE_TIMEOUT_S": str(IDLE_S),
        "GATEWAY_LLM_TIMEOUT_S": "10",
        "GATEWAY_REQUEST_DEADLINE_S": "12",
        # These tests fail the LLM on purpose, one request at a time: the breaker is not what they test.
        "GATEWAY_BREAKER_MIN_CALLS": "1000",
        "GATEWAY_BREAKER_CONSECUTIVE_FAILURES": "1000",
        "GATEWAY_CACHE_ANSWERS": "false",
        "GATEWAY_INDEX_WARMUP_S": "0",
        "GATEWAY_SEED": "7",
    }


def supervisor_for(tmp_path_factory: pytest.TempPathFactory, gateway_env: dict[str, str]) -> LocalSupervisor:
    base = load_topology(DEFAULT_TOPOLOGY)
    offset = free_port_offset(base)
    state_dir: Path = tmp_path_factory.mktemp("scripted-state")
    settings = HarnessSettings.from_env({}).with_overrides(port_offset=offset, state_dir=state_dir)
    return LocalSupervisor(base.with_port_offset(offset), settings, overrides={"gateway": gateway_env})


@pytest.fixture(scope="module")
def scripted_system(llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSupervisor]:
    """The real gateway and vector-db (and an unused real LLM), the gateway's LLM_URL the scripted one."""
    supervisor = supervisor_for(tmp_path_factory, scripted_env(llm))
    supervisor.start_all()
    try:
        yield supervisor
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="module")
def gateway(scripted_system: LocalSupervisor) -> str:
    return scripted_system.address("gateway")


def test_stream_from_a_healthy_scripted_llm_is_complete(gateway: str, llm: ScriptedLlm) -> None:
    """The scripted LLM's six pieces arrive as six token events, in order, outcome complete."""
    llm.play(Reply("ok", events=6))
    result = stream(gateway)
    assert_well_formed(result)
    assert result.meta["mode"] == "normal"
    assert result.text == "".join(piece(i) for i in range(6))
    assert result.done["outcome"] == "complete"


def test_stream_stalled_before_the_first_token_degrades_after_the_first_token_timeout(
    gateway: str, llm: ScriptedLlm
) -> None:
    """A stream that never sends a token: the degraded answer once the first-token timeout passed, not 10 s later."""
    llm.play(Reply("stall_first"))
    result = stream(gateway)
    assert_well_formed(result)
    assert result.meta["mode"] == "degraded-cache-only"
    assert result.done["outcome"] == "complete"
    assert FIRST_TOKEN_S - 0.05 <= result.elapsed_s < FIRST_TOKEN_S + 1.5, result.elapsed_s
    assert len(llm.requests()) == 1, "a stalled stream is not retried"


@pytest.mark.parametrize(("reply", "why"), [
    (Reply("cut", events=3), "cut"),
    (Reply("error_event", events=3), "error event"),
    (Reply("malformed", events=3), "malformed event"),
    (Reply("stall_after", events=3), "idle stall"),
])
def test_stream_broken_after_the_first_token_ends_partial_with_a_notice(
    gateway: str, llm: ScriptedLlm, reply: Reply, why: str
) -> None:
    """Three tokens then a break: the three are relayed, then done partial with the interruption notice."""
    llm.play(reply)
    result = stream(gateway)
    assert_well_formed(result)
    assert result.meta["mode"] == "normal"
    assert result.text == "".join(piece(i) for i in range(3)), why
    assert result.done["outcome"] == "partial", why
    assert result.done["notice"] and INTERRUPTED_EN in result.done["notice"], why
    assert result.elapsed_s < IDLE_S + 1.5, f"{why}: {result.elapsed_s:.2f}s"
    assert len(llm.requests()) == 1, f"{why}: nothing is retried after the first token"


def test_stream_interruption_notice_is_japanese_by_default(gateway: str, llm: ScriptedLlm) -> None:
    """Without Accept-Language: en the interruption notice is Japanese."""
    llm.play(Reply("cut", events=2))
    result = stream(gateway, lang="ja")
    assert result.done["outcome"] == "partial" and "中断" in result.done["notice"]


def test_stream_error_event_before_the_first_token_is_retried(gateway: str, llm: ScriptedLlm) -> None:
    """An overload error event before any token is retried once and the retry's answer is streamed."""
    llm.play(Reply("error_event", events=0))
    result = stream(gateway)
    assert result.meta["mode"] == "normal" and result.done["outcome"] == "complete"
    assert len(llm.requests()) == 2


def test_stream_failing_before_the_first_token_twice_degrades(gateway: str, llm: ScriptedLlm) -> None:
    """Both attempts end in an error event before any token: the degraded answer, complete, never a 5xx."""
    llm.play(Reply("error_event", events=0), Reply("error_event", events=0))
    result = stream(gateway)
    assert_well_formed(result)
    assert result.meta["mode"] == "degraded-cache-only" and result.done["outcome"] == "complete"
    assert len(llm.requests()) == 2


def test_retry_after_within_the_deadline_is_honoured(gateway: str, llm: ScriptedLlm) -> None:
    """A 429 with Retry-After: 0.6 is retried no sooner than 0.6 s later, and the answer is normal."""
    before = metric(gateway, "chatbot_retry_after_honoured_total", dependency="llm")
    llm.play(Reply("status", status=429, headers={"Retry-After": "0.6"}))
    result = stream(gateway)
    assert result.meta["mode"] == "normal" and result.done["outcome"] == "complete"
    seen = llm.requests()
    assert len(seen) == 2
    assert seen[1].at - seen[0].at >= 0.6 - 0.02, seen[1].at - seen[0].at
    assert metric(gateway, "chatbot_retry_after_honoured_total", dependency="llm") == before + 1


def test_retry_after_ms_is_read_before_retry_after(gateway: str, llm: ScriptedLlm) -> None:
    """retry-after-ms: 300 wins over Retry-After: 60 (which alone would be refused), on /chat too."""
    llm.play(Reply("status", status=429, headers={"retry-after-ms": "300", "Retry-After": "60"}))
    response = httpx.post(gateway + "/chat", json={"message": QUESTION, "user_id": "it"}, timeout=40.0,
                          trust_env=False)
    assert response.status_code == 200 and response.json()["mode"] == "normal"
    seen = llm.requests()
    assert len(seen) == 2 and 0.3 - 0.02 <= seen[1].at - seen[0].at < 5.0


def test_retry_after_past_the_deadline_degrades_at_once(gateway: str, llm: ScriptedLlm) -> None:
    """Retry-After: 60 with a 12 s deadline: no sleep, no retry, the degraded answer within a second."""
    before = metric(gateway, "chatbot_retry_after_refused_total", dependency="llm", reason="deadline")
    llm.play(Reply("status", status=429, headers={"Retry-After": "60"}))
    result = stream(gateway)
    assert_well_formed(result)
    assert result.meta["mode"] == "degraded-cache-only" and result.done["outcome"] == "complete"
    assert result.elapsed_s < 1.0, result.elapsed_s
    assert len(llm.requests()) == 1
    assert metric(gateway, "chatbot_retry_after_refused_total", dependency="llm", reason="deadline") == before + 1


def test_a_4xx_other_than_408_or_429_is_not_retried(gateway: str, llm: ScriptedLlm) -> None:
    """A 400 from the LLM, even with Retry-After, degrades the request without a second call."""
    llm.play(Reply("status", status=400, headers={"Retry-After": "0"}))
    result = stream(gateway)
    assert result.meta["mode"] == "degraded-cache-only"
    assert len(llm.requests()) == 1


def test_stream_partial_answers_are_counted(gateway: str, llm: ScriptedLlm) -> None:
    """A partial answer shows in chatbot_stream_answers_total with outcome partial."""
    before = metric(gateway, "chatbot_stream_answers_total", mode="normal", outcome="partial")
    llm.play(Reply("cut", events=1))
    assert stream(gateway).done["outcome"] == "partial"
    assert metric(gateway, "chatbot_stream_answers_total", mode="normal", outcome="partial") == before + 1


def test_stream_user_hanging_up_drops_the_llm_stream(gateway: str, llm: ScriptedLlm) -> None:
    """A user who closes the connection after the first token: the LLM request is dropped, counted abandoned."""
    before = metric(gateway, "chatbot_stream_answers_total", mode="normal", outcome="abandoned")
    cancelled = llm.cancellations()
    llm.play(Reply("stall_after", events=2))
    with httpx.stream("POST", gateway + "/chat/stream", json={"message": QUESTION, "user_id": "it"},
                      timeout=10.0, trust_env=False) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("event: ")) == "event: meta"
        assert next(line for line in lines if line.startswith("event: ")) == "event: token"
    wait_until(lambda: llm.cancellations() > cancelled, 5, "the scripted LLM to see the gateway hang up")
    wait_until(lambda: metric(gateway, "chatbot_stream_answers_total", mode="normal", outcome="abandoned") > before,
               5, "the abandoned stream to be counted")


# -- the flawed variants, each a gateway of its own beside the scripted system's vector-db ------------


@contextmanager
def flawed_gateway(variant: str, scripted_system: LocalSupervisor, llm: ScriptedLlm,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway with ``variant`` (2 s deadline), sharing the running vector-db; stopped by PID after."""
    env = {**scripted_env(llm), "GATEWAY_VARIANT": variant, "GATEWAY_REQUEST_DEADLINE_S": "2",
           "VECTORDB_URL": scripted_system.address("vector-db")}
    supervisor = supervisor_for(tmp_path_factory, env)
    supervisor.ensure_running("gateway")
    try:
        yield supervisor.address("gateway")
    finally:
        supervisor.stop_all()


def test_variant_stream_error_as_5xx_answers_500_or_aborts(
    scripted_system: LocalSupervisor, llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Over real HTTP the variant answers 500 for a stream that fails early, and aborts one that breaks later."""
    with flawed_gateway("stream-error-as-5xx", scripted_system, llm, tmp_path_factory) as base:
        llm.play(Reply("error_event", events=0), Reply("error_event", events=0))
        assert stream(base).status == 500
        llm.play(Reply("cut", events=2))
        with pytest.raises(httpx.RemoteProtocolError):
            stream(base)


def test_variant_silent_truncation_says_complete(
    scripted_system: LocalSupervisor, llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The variant ends a stream cut after three tokens with done complete and no notice."""
    with flawed_gateway("silent-truncation", scripted_system, llm, tmp_path_factory) as base:
        llm.play(Reply("cut", events=3))
        result = stream(base)
    assert result.text == "".join(piece(i) for i in range(3))
    assert result.done["outcome"] == "complete" and result.done["notice"] is None


def test_variant_sleeps_retry_after_keeps_the_user_past_the_deadline(
    scripted_system: LocalSupervisor, llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Retry-After: 3 with a 2 s deadline: the variant answers only after sleeping the 3 s, too late for anything."""
    with flawed_gateway("sleeps-retry-after", scripted_system, llm, tmp_path_factory) as base:
        llm.play(Reply("status", status=429, headers={"Retry-After": "3"}))
        result = stream(base)
    # The sleep spent the whole deadline: not even the cache lookup had time left, so static-only.
    assert result.meta["mode"] == "static-only"
    assert result.elapsed_s >= 3.0 - 0.05, result.elapsed_s


def test_variant_no_stream_idle_timeout_holds_a_stalled_stream(
    scripted_system: LocalSupervisor, llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A stall after the first tokens: the variant waits out the whole 2 s deadline, not the 0.5 s idle timeout."""
    with flawed_gateway("no-stream-idle-timeout", scripted_system, llm, tmp_path_factory) as base:
        llm.play(Reply("stall_after", events=2))
        result = stream(base)
    assert result.done["outcome"] == "partial"
    assert result.elapsed_s >= 2.0 - 0.3, result.elapsed_s
