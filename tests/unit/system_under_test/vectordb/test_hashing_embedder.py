"""The hashing embedder: deterministic, normalised, and tuned for Japanese and English support text."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from system_under_test.common.embedding import HashingEmbedder

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(1024)


def cosine(embedder: HashingEmbedder, a: str, b: str) -> float:
    return float(embedder.embed(a) @ embedder.embed(b))


def test_embedder_returns_unit_float32_vectors(embedder: HashingEmbedder) -> None:
    """A text with features maps to a float32 vector of length dim and L2 norm 1."""
    vector = embedder.embed("つばめカードのチャージ方法 / how to charge a Tsubame Card")
    assert vector.dtype == np.float32
    assert vector.shape == (1024,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


def test_embedder_is_deterministic_across_processes(embedder: HashingEmbedder) -> None:
    """Another interpreter with another hash seed computes the same vector (no salted hash())."""
    text = "終電のあとの深夜バス night bus fare"
    code = (
        "import sys; from system_under_test.common.embedding import HashingEmbedder;"
        f"sys.stdout.write(HashingEmbedder(1024).embed({text!r}).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    other = np.frombuffer(bytes.fromhex(out.stdout), dtype=np.float32)
    np.testing.assert_array_equal(other, embedder.embed(text))


@pytest.mark.parametrize("text", ["", "   ", "？！…", "を", "the of and"])
def test_embedder_maps_featureless_text_to_zero_vector(embedder: HashingEmbedder, text: str) -> None:
    """Empty text, punctuation, a lone particle or only stopwords carry no feature at all."""
    assert not embedder.embed(text).any()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ＴＳＵＢＡＭＥ　ＣＡＲＤ", "tsubame card"),  # full-width Latin
        ("ﾁｬｰｼﾞ", "チャージ"),  # half-width katakana
        ("How do I charge the card?", "charge card"),  # stopwords and punctuation
        ("refund for lost tickets", "refund for a lost ticket"),  # plural
        ("1,000円", "1000円"),  # thousands separator
    ],
)
def test_embedder_normalises_surface_variants(embedder: HashingEmbedder, a: str, b: str) -> None:
    """Width, case, stopwords, plurals and thousands separators do not change the vector."""
    assert cosine(embedder, a, b) == pytest.approx(1.0, abs=1e-5)


def test_embedder_keeps_different_prices_apart(embedder: HashingEmbedder) -> None:
    """1,000 and 10,000 yen share no feature, so they are not mistaken for each other."""
    assert cosine(embedder, "1,000 yen", "10,000 yen") < 0.6


def test_embedder_ranks_related_japanese_above_unrelated(embedder: HashingEmbedder) -> None:
    """Kanji/katakana overlap, not shared particles, decides similarity in Japanese."""
    query = "カードにチャージする方法"
    related = "つばめカードへのチャージは券売機で行えます"
    unrelated = "ペットはケースに入れて持ち込めます"
    assert cosine(embedder, query, related) > 0.3
    assert cosine(embedder, query, unrelated) < 0.1


def test_embedder_matches_inflected_english_words(embedder: HashingEmbedder) -> None:
    """Character trigrams let 'charging' meet 'charge' more than an unrelated word does."""
    assert cosine(embedder, "charging", "charge") > cosine(embedder, "charging", "refund") + 0.3


def test_embed_many_stacks_the_rows_of_embed(embedder: HashingEmbedder) -> None:
    """embed_many returns one row per text, each equal to embed of that text."""
    texts = ["遅延証明書", "delay certificate", ""]
    matrix = embedder.embed_many(texts)
    assert matrix.shape == (3, 1024)
    assert matrix.dtype == np.float32
    for row, text in zip(matrix, texts, strict=True):
        np.testing.assert_array_equal(row, embedder.embed(text))


def test_embedder_honours_dim() -> None:
    """The dim given at construction is the vector length and the dim property."""
    small = HashingEmbedder(64)
    assert small.dim == 64
    assert small.embed("lost and found").shape == (64,)


def test_embedder_rejects_a_dimension_below_two() -> None:
    """A one-dimensional embedding would make every text identical, so it is refused."""
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(1)


def test_embedder_embeds_a_short_query_well_under_a_millisecond(embedder: HashingEmbedder) -> None:
    """A chat-sized query embeds in under 1 ms on average (typically about 50 µs)."""
    queries = ["How do I charge my Tsubame Card?", "つばめカードにチャージするにはどうすればいいですか？"]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for query in queries:
            embedder.embed(query)
    mean = (time.perf_counter() - started) / (rounds * len(queries))
    print(f"embed: {mean * 1e6:.0f} µs per short query")
    assert mean < 1e-3
