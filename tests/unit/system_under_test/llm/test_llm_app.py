"""The LLM service over HTTP: completions, streaming, validation, pacing, probes, metrics, upstream switch.

Apps run in-process through httpx's ASGI transport with their lifespan entered. Upstreams are real HTTP
servers on 127.0.0.1: a second LLM app under uvicorn, or a small aiohttp server playing a third-party
model server where a test needs one that fails or records what it received. Their sockets are bound
and listening before the server starts, so a client can connect at once (the kernel queues the
connection until the server accepts it) and no test waits for a server to come up.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI

from system_under_test.common.env import SettingsError
from system_under_test.llm.app import create_app
from system_under_test.llm.generator import Passage, format_context
from system_under_test.llm.pacing import Pacer
from system_under_test.llm.settings import LlmSettings
from system_under_test.llm.upstream import UpstreamClient

FAST = LlmSettings(base_delay_ms=0.0, token_delay_ms=0.0)
CONTEXT = format_context(
    [
        Passage("p012", "Returns", "Items can be returned within 30 days. Refunds take 5 business days."),
        Passage("p101", "返品ポリシー", "商品到着後30日以内であれば返品できます。返金は5営業日以内に行われます。"),
    ]
)


def chat(question: str, *, context: bool = True, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "system", "content": CONTEXT}] if context else []
    return {"model": "any", "messages": [*messages, {"role": "user", "content": question}], **extra}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``app`` with its lifespan (start-up and shutdown) run."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://llm.test") as client:
            yield client


@pytest.fixture
def bound_socket() -> Iterator[socket.socket]:
    """A TCP socket bound to a free 127.0.0.1 port and not yet listening: connects are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def base_url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@asynccontextmanager
async def uvicorn_on(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``app`` with uvicorn on the already-bound ``sock`` in this event loop."""
    sock.listen()  # from here connects queue in the kernel until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, loop="asyncio", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task


@dataclass
class FakeModelServer:
    """A third-party OpenAI-compatible server that records requests and answers as told."""

    status: int = 200
    hang: bool = False
    requests: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, body, request.headers.get("Authorization")))
        if self.hang:
            await self.release.wait()
        if self.status != 200:
            return web.json_response({"error": {"message": "model crashed"}}, status=self.status)
        choice = {"index": 0, "message": {"role": "assistant", "content": "fake answer"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        return web.json_response(
            {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": body["model"],
             "choices": [choice], "usage": usage}
        )

    async def models(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, {}, request.headers.get("Authorization")))
        return web.json_response({"object": "list", "data": []})


@asynccontextmanager
async def aiohttp_on(fake: FakeModelServer, sock: socket.socket) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.completions)
    app.router.add_get("/v1/models", fake.models)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        fake.release.set()
        await runner.cleanup()


def upstream_of(app: FastAPI) -> UpstreamClient:
    client = app.state.upstream
    assert isinstance(client, UpstreamClient)
    return client


def sse_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line.startswith("data: ")]


@pytest.mark.asyncio
async def test_completion_returns_an_openai_shaped_grounded_answer() -> None:
    """A context and an English question give an OpenAI chat.completion citing the passage."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=chat("How long do refunds take?"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"]) == ("chat.completion", "tsubame-extractive-1")
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert "Refunds take 5 business days. [p012]" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == len(choice["message"]["content"].split())


@pytest.mark.asyncio
async def test_completion_answers_a_japanese_question_in_japanese() -> None:
    """A Japanese question is answered in Japanese from the Japanese passage."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=chat("返金はいつですか？"))
    content = response.json()["choices"][0]["message"]["content"]
    assert content.startswith("資料によると")
    assert "[p101]" in content


@pytest.mark.asyncio
async def test_completion_without_context_gives_a_general_answer() -> None:
    """Without a context message the service still answers, saying it has no documents."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=chat("Where is my order?", context=False))
    assert response.status_code == 200
    assert "no specific documents" in response.json()["choices"][0]["message"]["content"]


@pytest.mark.asyncio
async def test_completion_honours_max_tokens() -> None:
    """``max_tokens`` bounds the answer and ends it with finish_reason "length"."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=chat("How long do refunds take?", max_tokens=3))
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 4097}, "max_tokens"),
        ({"temperature": 2.5}, "temperature"),
    ],
)
async def test_completion_rejects_invalid_input_naming_the_field(change: dict[str, Any], param: str) -> None:
    """Invalid input answers 422 with an OpenAI error whose param and message name the field."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json={**chat("hi"), **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert error["message"].startswith(f"{param}: ")


@pytest.mark.asyncio
async def test_completion_rejects_a_body_that_is_not_json() -> None:
    """A body that is not JSON is reported against "body", not a character offset."""
    async with running(create_app(FAST)) as client:
        response = await client.post(
            "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "body"


@pytest.mark.asyncio
async def test_completion_accepts_unknown_openai_parameters() -> None:
    """Extra OpenAI parameters (top_p, stop, user) do not break a stock client's request."""
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=chat("refunds?", top_p=0.9, stop=["\n"], user="u1"))
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_completion_stream_sends_the_same_answer_as_sse_chunks() -> None:
    """A streamed answer concatenates to the non-streamed one and ends with finish_reason and [DONE]."""
    async with running(create_app(FAST)) as client:
        whole = await client.post("/v1/chat/completions", json=chat("How long do refunds take?"))
        streamed = await client.post("/v1/chat/completions", json=chat("How long do refunds take?", stream=True))
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_data(streamed.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole.json()["choices"][0]["message"]["content"]
    assert len(chunks) > 3


@pytest.mark.asyncio
async def test_completion_stream_ends_with_usage_when_asked() -> None:
    """``stream_options.include_usage`` adds a final chunk with empty choices and the usage."""
    request = chat("refunds?", stream=True, stream_options={"include_usage": True})
    async with running(create_app(FAST)) as client:
        response = await client.post("/v1/chat/completions", json=request)
    last = json.loads(sse_data(response.text)[-2])
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] > 0


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True])
async def test_completion_is_delayed_by_base_plus_tokens_times_per_token(stream: bool) -> None:
    """An answer of n tokens takes at least base + n x per-token delay, streamed or not."""
    settings = replace(FAST, base_delay_ms=40.0, token_delay_ms=4.0)
    async with running(create_app(settings)) as client:
        began = time.perf_counter()
        response = await client.post("/v1/chat/completions", json=chat("How long do refunds take?", stream=stream))
        elapsed = time.perf_counter() - began
        tokens = (await client.post("/v1/chat/completions", json=chat("How long do refunds take?"))).json()
    expected = 0.040 + tokens["usage"]["completion_tokens"] * 0.004
    assert response.status_code == 200
    assert elapsed >= expected  # a lower bound only: how much longer a loaded machine takes is no fact


@pytest.mark.asyncio
async def test_completion_delays_do_not_block_concurrent_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paced requests wait concurrently: all ten are in their delay at once (each waits for the other nine)."""
    waiting = 0
    all_in = asyncio.Event()

    async def wait_for_the_others(self: Pacer, tokens: int) -> None:
        nonlocal waiting
        waiting += 1
        if waiting == 10:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=10.0)  # serialized requests would never get here

    monkeypatch.setattr(Pacer, "wait", wait_for_the_others)
    settings = replace(FAST, base_delay_ms=100.0)
    async with running(create_app(settings)) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=chat("refunds?", max_tokens=1)) for _ in range(10))
        )
    assert all(r.status_code == 200 for r in responses)
    assert waiting == 10


@pytest.mark.asyncio
async def test_models_lists_the_configured_model() -> None:
    """``GET /v1/models`` lists LLM_MODEL in OpenAI's list format."""
    async with running(create_app(replace(FAST, model="m-1"))) as client:
        body = (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["m-1"]


@pytest.mark.asyncio
async def test_probes_pass_once_started_and_fail_before() -> None:
    """Startup and readiness fail until the lifespan has run, then pass as health+json."""
    app = create_app(FAST)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://llm.test") as cold:
        assert (await cold.get("/health/startup")).status_code == 503
        assert (await cold.get("/health/live")).status_code == 200
    async with running(app) as client:
        for path in ("/health/live", "/health/ready", "/health/startup"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/health+json"
            assert response.json()["status"] == "pass"


@pytest.mark.asyncio
async def test_metrics_count_requests_by_status_and_completion_tokens() -> None:
    """``/metrics`` counts answered and rejected requests, latency observations and tokens."""
    async with running(create_app(FAST)) as client:
        ok = await client.post("/v1/chat/completions", json=chat("refunds?"))
        await client.post("/v1/chat/completions", json={"messages": []})
        text = (await client.get("/metrics")).text
    tokens = ok.json()["usage"]["completion_tokens"]
    assert 'llm_requests_total{status="200"} 1.0' in text
    assert 'llm_requests_total{status="422"} 1.0' in text
    assert 'llm_request_duration_seconds_count{stream="false"} 1.0' in text
    assert f"llm_completion_tokens_total {float(tokens)}" in text


@pytest.mark.asyncio
async def test_upstream_answer_comes_from_a_real_llm_server(bound_socket: socket.socket) -> None:
    """With LLM_UPSTREAM_URL set, the answer is the upstream server's, fetched over real HTTP."""
    upstream_app = create_app(replace(FAST, model="upstream-model"))
    proxy_app = create_app(replace(FAST, upstream_url=base_url(bound_socket)))
    async with uvicorn_on(upstream_app, bound_socket), running(proxy_app) as client:
        response = await client.post("/v1/chat/completions", json=chat("How long do refunds take?"))
        ready = await client.get("/health/ready")
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    assert response.json()["model"] == "upstream-model"
    assert "[p012]" in response.json()["choices"][0]["message"]["content"]
    assert ready.json()["checks"]["upstream_last_call"] == "ok"
    assert 'llm_upstream_calls_total{outcome="ok"} 1.0' in metrics


@pytest.mark.asyncio
async def test_upstream_stream_relays_the_upstream_events(bound_socket: socket.socket) -> None:
    """A streaming request is relayed from the upstream as SSE, ending in [DONE]."""
    upstream_app = create_app(replace(FAST, model="upstream-model"))
    proxy_app = create_app(replace(FAST, upstream_url=base_url(bound_socket)))
    async with uvicorn_on(upstream_app, bound_socket), running(proxy_app) as client:
        response = await client.post("/v1/chat/completions", json=chat("refunds?", stream=True))
    events = sse_data(response.text)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    assert {json.loads(e)["model"] for e in events[:-1]} == {"upstream-model"}


@pytest.mark.asyncio
async def test_upstream_receives_the_configured_model_and_api_key(bound_socket: socket.socket) -> None:
    """LLM_UPSTREAM_MODEL replaces the request's model and LLM_UPSTREAM_API_KEY becomes a bearer token."""
    fake = FakeModelServer()
    settings = replace(FAST, upstream_url=base_url(bound_socket), upstream_api_key="k-1", upstream_model="llama3")
    async with aiohttp_on(fake, bound_socket), running(create_app(settings)) as client:
        response = await client.post("/v1/chat/completions", json=chat("refunds?", temperature=0.2))
    assert response.json()["choices"][0]["message"]["content"] == "fake answer"
    [(path, body, auth)] = fake.requests
    assert (path, body["model"], body["temperature"], auth) == ("/v1/chat/completions", "llama3", 0.2, "Bearer k-1")


@pytest.mark.asyncio
async def test_upstream_error_status_becomes_502_with_openai_error(bound_socket: socket.socket) -> None:
    """An upstream 500 answers 502 with an OpenAI-style error body and fails readiness."""
    fake = FakeModelServer(status=500)
    settings = replace(FAST, upstream_url=base_url(bound_socket), upstream_recheck_s=3600.0)
    async with aiohttp_on(fake, bound_socket), running(create_app(settings)) as client:
        response = await client.post("/v1/chat/completions", json=chat("refunds?"))
        ready = await client.get("/health/ready")
    assert response.status_code == 502
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_error_status")
    assert "500" in error["message"]
    assert ready.status_code == 503


@pytest.mark.asyncio
async def test_upstream_unreachable_becomes_502(bound_socket: socket.socket) -> None:
    """A refused connection answers 502 with code upstream_unavailable."""
    settings = replace(FAST, upstream_url=base_url(bound_socket))
    async with running(create_app(settings)) as client:
        response = await client.post("/v1/chat/completions", json=chat("refunds?", stream=True))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"


@pytest.mark.asyncio
async def test_upstream_timeout_becomes_502(bound_socket: socket.socket) -> None:
    """An upstream that does not answer within LLM_UPSTREAM_TIMEOUT_S gives a 502 with code upstream_timeout."""
    fake = FakeModelServer(hang=True)
    settings = replace(FAST, upstream_url=base_url(bound_socket), upstream_timeout_s=0.1)
    async with aiohttp_on(fake, bound_socket), running(create_app(settings)) as client:
        # Without the timeout the hung upstream would hold the call forever; wait_for turns that into a failure.
        response = await asyncio.wait_for(client.post("/v1/chat/completions", json=chat("refunds?")), timeout=10.0)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_timeout"


@pytest.mark.asyncio
async def test_upstream_readiness_probes_never_call_upstream(bound_socket: socket.socket) -> None:
    """Readiness reports the last call's outcome without sending the upstream anything."""
    fake = FakeModelServer()
    settings = replace(FAST, upstream_url=base_url(bound_socket))
    async with aiohttp_on(fake, bound_socket), running(create_app(settings)) as client:
        statuses = [(await client.get("/health/ready")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert fake.requests == []


@pytest.mark.asyncio
async def test_upstream_readiness_recovers_through_a_background_recheck(bound_socket: socket.socket) -> None:
    """After a failure, a stale readiness probe starts one GET /models; its success makes the service ready."""
    upstream_app = create_app(FAST)
    proxy_app = create_app(replace(FAST, upstream_url=base_url(bound_socket), upstream_recheck_s=0.0))
    async with running(proxy_app) as client:
        assert (await client.post("/v1/chat/completions", json=chat("refunds?"))).status_code == 502
        for _ in range(2):  # each stale probe starts a recheck, which fails while upstream is down
            assert (await client.get("/health/ready")).status_code == 503
            await upstream_of(proxy_app).settle()
        async with uvicorn_on(upstream_app, bound_socket):
            assert (await client.get("/health/ready")).status_code == 503  # reports the failure, rechecks
            await upstream_of(proxy_app).settle()
            assert (await client.get("/health/ready")).status_code == 200


def test_settings_from_env_reads_every_variable() -> None:
    """Each documented variable lands in its field; unset ones keep the documented defaults."""
    env = {
        "PORT": "18002",
        "LOG_LEVEL": "debug",
        "LLM_BASE_DELAY_MS": "5",
        "LLM_TOKEN_DELAY_MS": "0.5",
        "LLM_UPSTREAM_URL": "http://127.0.0.1:11434/v1/",
        "LLM_UPSTREAM_API_KEY": "k",
        "LLM_UPSTREAM_MODEL": "llama3",
        "LLM_UPSTREAM_TIMEOUT_S": "2.5",
    }
    settings = LlmSettings.from_env(env)
    assert (settings.port, settings.log_level) == (18002, "DEBUG")
    assert (settings.base_delay_ms, settings.token_delay_ms, settings.upstream_timeout_s) == (5.0, 0.5, 2.5)
    assert settings.upstream_url == "http://127.0.0.1:11434/v1"
    assert (settings.upstream_api_key, settings.upstream_model) == ("k", "llama3")
    defaults = LlmSettings.from_env({})
    assert (defaults.host, defaults.port, defaults.model) == ("127.0.0.1", 8002, "tsubame-extractive-1")
    assert (defaults.base_delay_ms, defaults.token_delay_ms, defaults.upstream_url) == (10.0, 0.5, None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_TOKEN_DELAY_MS", "fast"),
        ("LLM_BASE_DELAY_MS", "-1"),
        ("LLM_UPSTREAM_URL", "127.0.0.1:11434"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_settings_from_env_rejects_bad_values_naming_the_variable(name: str, value: str) -> None:
    """A malformed variable fails at start-up with a message that names it."""
    with pytest.raises(SettingsError, match=name):
        LlmSettings.from_env({name: value})
