"""The vector-db HTTP contract, in process: search, cache, validation, probes and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from system_under_test.vectordb.app import create_app
from system_under_test.vectordb.corpus import CorpusError
from system_under_test.vectordb.settings import Backend, VectorDbSettings


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vector-db.test")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app whose lifespan has run, so its index is loaded."""
    app = create_app(VectorDbSettings())
    async with app.router.lifespan_context(app), client_for(app) as http:
        yield http


@pytest.mark.asyncio
async def test_app_search_returns_hits_in_contract_shape(client: httpx.AsyncClient) -> None:
    """POST /search answers {"hits": [{"id", "title", "text", "score"}]}, best first, at most top_k."""
    response = await client.post("/search", json={"query": "How do I top up my Tsubame Card?", "top_k": 3})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert 1 <= len(hits) <= 3
    assert all(set(hit) == {"id", "title", "text", "score"} for hit in hits)
    assert hits[0]["id"] == "ic-charge-en"
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score <= 1.0 for score in scores)


@pytest.mark.asyncio
async def test_app_search_answers_japanese(client: httpx.AsyncClient) -> None:
    """A Japanese query finds the Japanese passage, with top_k defaulting to 3."""
    response = await client.post("/search", json={"query": "遅延証明書はどこでもらえますか？"})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert len(hits) == 3
    assert hits[0]["id"] == "delay-certificate-ja"


@pytest.mark.asyncio
async def test_app_search_without_features_returns_no_hits(client: httpx.AsyncClient) -> None:
    """A query of punctuation only matches nothing, rather than returning arbitrary passages."""
    response = await client.post("/search", json={"query": "？？？", "top_k": 5})
    assert response.status_code == 200
    assert response.json() == {"hits": []}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "", "top_k": 3}, "query"),
        ({"query": "x" * 4001, "top_k": 3}, "query"),
        ({"top_k": 3}, "query"),
        ({"query": 42, "top_k": 3}, "query"),
        ({"query": "fares", "top_k": 0}, "top_k"),
        ({"query": "fares", "top_k": 21}, "top_k"),
        ({"query": "fares", "top_k": "many"}, "top_k"),
    ],
)
async def test_app_search_rejects_invalid_input_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    """Bad input gets 422 and the error's location names the offending field."""
    response = await client.post("/search", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]


@pytest.mark.asyncio
async def test_app_cache_round_trip(client: httpx.AsyncClient) -> None:
    """An answer put for a query is found again by a rewording, with query, answer and similarity."""
    put = await client.post(
        "/cache/put", json={"query": "How do I charge my Tsubame Card?", "answer": "At any ticket machine."}
    )
    assert put.status_code == 204
    assert put.content == b""
    found = await client.post("/cache/search", json={"query": "Where can I charge my Tsubame card?"})
    assert found.status_code == 200
    hit = found.json()["hit"]
    assert set(hit) == {"query", "answer", "similarity"}
    assert hit["query"] == "How do I charge my Tsubame Card?"
    assert hit["answer"] == "At any ticket machine."
    assert 0.8 <= hit["similarity"] <= 1.0


@pytest.mark.asyncio
async def test_app_cache_search_misses_with_null(client: httpx.AsyncClient) -> None:
    """A question nobody cached answers {"hit": null}."""
    await client.post("/cache/put", json={"query": "How do I charge my Tsubame Card?", "answer": "At machines."})
    response = await client.post("/cache/search", json={"query": "How do I refund my Tsubame Card?"})
    assert response.status_code == 200
    assert response.json() == {"hit": None}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/cache/put", {"query": "q"}, "answer"),
        ("/cache/put", {"query": "q", "answer": ""}, "answer"),
        ("/cache/put", {"query": "", "answer": "a"}, "query"),
        ("/cache/search", {}, "query"),
        ("/cache/search", {"query": "x" * 4001}, "query"),
    ],
)
async def test_app_cache_rejects_invalid_input_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    """Cache endpoints answer 422 naming the missing or invalid field."""
    response = await client.post(path, json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]


@pytest.mark.asyncio
async def test_app_probes_fail_until_the_index_is_loaded() -> None:
    """Without the lifespan, startup and readiness answer 503 fail, liveness passes, search is 503."""
    app = create_app(VectorDbSettings())
    async with client_for(app) as http:
        for path in ("/health/startup", "/health/ready"):
            response = await http.get(path)
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/health+json")
            assert response.json() == {"status": "fail", "checks": {"index": "not loaded"}}
        assert (await http.get("/health/live")).status_code == 200
        search = await http.post("/search", json={"query": "fares", "top_k": 3})
        assert search.status_code == 503
        assert "index" in search.json()["detail"]


@pytest.mark.asyncio
async def test_app_probes_pass_once_the_index_is_loaded(client: httpx.AsyncClient) -> None:
    """After the lifespan has built the index, all three probes answer 200 pass."""
    for path in ("/health/startup", "/health/ready", "/health/live"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json()["status"] == "pass"


@pytest.mark.asyncio
async def test_app_metrics_count_requests_index_and_cache(client: httpx.AsyncClient) -> None:
    """/metrics exposes request counts by endpoint and status, index size, cache size, hits and misses."""
    await client.post("/search", json={"query": "wifi", "top_k": 1})
    await client.post("/search", json={"query": "", "top_k": 1})
    await client.post("/cache/put", json={"query": "wifi password", "answer": "none needed"})
    await client.post("/cache/search", json={"query": "wifi password"})
    await client.post("/cache/search", json={"query": "coin lockers"})
    text = (await client.get("/metrics")).text
    assert 'vectordb_requests_total{endpoint="/search",status="200"} 1.0' in text
    assert 'vectordb_requests_total{endpoint="/search",status="422"} 1.0' in text
    assert 'vectordb_request_duration_seconds_count{endpoint="/cache/search"} 2.0' in text
    assert 'vectordb_cache_lookups_total{result="hit"} 1.0' in text
    assert 'vectordb_cache_lookups_total{result="miss"} 1.0' in text
    assert "vectordb_index_passages 138.0" in text
    assert "vectordb_cache_entries 1.0" in text


@pytest.mark.asyncio
async def test_app_metrics_label_unknown_paths_as_other(client: httpx.AsyncClient) -> None:
    """Requests to unknown paths share one label, so scanners cannot create unbounded series."""
    for n in range(3):
        assert (await client.get(f"/no/such/path/{n}")).status_code == 404
    text = (await client.get("/metrics")).text
    assert 'vectordb_requests_total{endpoint="other",status="404"} 3.0' in text


@pytest.mark.asyncio
async def test_app_instances_share_no_state() -> None:
    """Two apps in one process keep separate caches and metrics registries."""
    first, second = create_app(VectorDbSettings()), create_app(VectorDbSettings())
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        async with client_for(first) as a, client_for(second) as b:
            await a.post("/cache/put", json={"query": "night bus fare", "answer": "1,200 yen"})
            assert (await b.post("/cache/search", json={"query": "night bus fare"})).json() == {"hit": None}
            assert "vectordb_cache_entries 0.0" in (await b.get("/metrics")).text


@pytest.mark.asyncio
async def test_app_lifespan_fails_when_the_corpus_is_missing(tmp_path: Path) -> None:
    """A missing corpus stops start-up with an error naming the file, instead of serving no index."""
    missing = tmp_path / "absent.jsonl"
    app = create_app(VectorDbSettings(corpus_path=missing))
    with pytest.raises(CorpusError, match="absent.jsonl"):
        async with app.router.lifespan_context(app):
            pytest.fail("the lifespan must not start")


@pytest.mark.asyncio
async def test_app_serves_the_qdrant_backend() -> None:
    """With VECTORDB_BACKEND=qdrant (local mode) search answers the same top passage."""
    pytest.importorskip("qdrant_client", reason="qdrant-client is an optional extra: pip install '.[qdrant]'")
    app = create_app(VectorDbSettings(backend=Backend.QDRANT))
    async with app.router.lifespan_context(app), client_for(app) as http:
        response = await http.post("/search", json={"query": "How do I top up my Tsubame Card?", "top_k": 3})
        assert response.status_code == 200
        assert response.json()["hits"][0]["id"] == "ic-charge-en"
