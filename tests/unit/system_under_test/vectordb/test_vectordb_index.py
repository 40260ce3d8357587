"""Vector indexes: the numpy default and the optional Qdrant backend rank passages the same way."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.vectordb.corpus import Passage
from system_under_test.vectordb.index import IndexBackendError, NumpyIndex, QdrantIndex, open_index
from system_under_test.vectordb.settings import Backend

PASSAGES = [
    Passage("charge-en", "Charging", "Charge your card at ticket machines in 1,000 yen units.", "en"),
    Passage("pets-en", "Pets", "Small pets travel in a closed carrier for 290 yen.", "en"),
    Passage("charge-ja", "チャージ", "つばめカードへのチャージは券売機で1,000円単位です。", "ja"),
    Passage("pets-ja", "ペット", "ペットはケースに入れて290円で持ち込めます。", "ja"),
]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(256)


@pytest.fixture
def index(embedder: HashingEmbedder) -> NumpyIndex:
    built = NumpyIndex(embedder.dim)
    built.add(PASSAGES, embedder.embed_many([p.searchable_text for p in PASSAGES]))
    return built


def test_numpy_index_returns_best_first_with_cosine_scores(index: NumpyIndex, embedder: HashingEmbedder) -> None:
    """The closest passage comes first, scores descend, and a score is the cosine similarity."""
    query = embedder.embed("charge card at ticket machine")
    hits = index.search(query, 3)
    assert [h.passage.id for h in hits][0] == "charge-en"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    expected = float(embedder.embed(PASSAGES[0].searchable_text) @ query)
    assert hits[0].score == pytest.approx(expected, abs=1e-5)


def test_numpy_index_caps_top_k_at_its_size(index: NumpyIndex, embedder: HashingEmbedder) -> None:
    """Asking for more hits than passages returns every passage once."""
    hits = index.search(embedder.embed("pets"), 20)
    assert sorted(h.passage.id for h in hits) == sorted(p.id for p in PASSAGES)


def test_numpy_index_without_passages_returns_no_hits(embedder: HashingEmbedder) -> None:
    """An empty index answers with an empty list rather than failing."""
    assert NumpyIndex(embedder.dim).search(embedder.embed("pets"), 3) == []


def test_numpy_index_adds_in_batches(embedder: HashingEmbedder) -> None:
    """Passages added in two batches are all searchable and counted."""
    index = NumpyIndex(embedder.dim)
    for batch in (PASSAGES[:1], PASSAGES[1:]):
        index.add(batch, embedder.embed_many([p.searchable_text for p in batch]))
    assert len(index) == len(PASSAGES)
    assert index.search(embedder.embed("ペット ケース"), 1)[0].passage.id == "pets-ja"


def test_numpy_index_rejects_vectors_of_the_wrong_shape(embedder: HashingEmbedder) -> None:
    """Vectors that do not match the passages or the dimension are refused with both shapes named."""
    index = NumpyIndex(embedder.dim)
    with pytest.raises(IndexBackendError, match=r"\(1, 256\)"):
        index.add(PASSAGES[:1], np.zeros((2, embedder.dim), dtype=np.float32))
    with pytest.raises(IndexBackendError, match="query vector"):
        index.search(np.zeros(7, dtype=np.float32), 1)


def test_open_index_defaults_to_numpy() -> None:
    """The memory backend needs no optional package."""
    assert isinstance(open_index(Backend.MEMORY, 8), NumpyIndex)


def test_qdrant_index_without_its_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Choosing qdrant without qdrant-client installed fails with the install command."""
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    with pytest.raises(IndexBackendError, match=r"rag-chaos-harness\[qdrant\]"):
        QdrantIndex(8)


def test_qdrant_index_ranks_like_numpy(index: NumpyIndex, embedder: HashingEmbedder) -> None:
    """Qdrant local mode returns the same passages, order and scores as the numpy index."""
    pytest.importorskip("qdrant_client", reason="qdrant-client is an optional extra: pip install '.[qdrant]'")
    qdrant = QdrantIndex(embedder.dim)
    try:
        qdrant.add(PASSAGES, embedder.embed_many([p.searchable_text for p in PASSAGES]))
        assert len(qdrant) == len(PASSAGES)
        for text in ("charge card at ticket machine", "ペットの料金", "small pets in a carrier"):
            query = embedder.embed(text)
            expected = index.search(query, 3)
            got = qdrant.search(query, 3)
            assert [h.passage.id for h in got] == [h.passage.id for h in expected]
            assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=1e-4)
    finally:
        qdrant.close()
