"""The semantic answer cache: paraphrases hit, other questions miss, size stays bounded (LRU)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.vectordb.cache import SemanticCache
from system_under_test.vectordb.settings import VectorDbSettings

DEFAULT_THRESHOLD = VectorDbSettings().cache_threshold

# Rewordings of one question: a cached answer to the first is a right answer to the second.
PARAPHRASES = [
    ("How do I charge my Tsubame Card?", "Where can I charge my Tsubame card?"),
    ("What time is the last train?", "What time does the last train leave?"),
    ("Can I bring my dog on the train?", "Am I allowed to bring my dog on the train?"),
    ("つばめカードにチャージする方法を教えてください", "つばめカードへのチャージ方法を教えてください"),
    ("犬を連れて電車に乗れますか？", "犬を連れて電車に乗ることはできますか？"),
    ("遅延証明書はどこでもらえますか？", "遅延証明書はどこで発行してもらえますか？"),
]
# Neighbouring questions: sharing most words, but a cached answer to one is wrong for the other.
DIFFERENT_QUESTIONS = [
    ("How do I charge my Tsubame Card?", "How do I refund my Tsubame Card?"),
    ("What time is the last train?", "What time is the first train?"),
    ("Can I bring my dog on the train?", "Can I bring my cat on the train?"),
    ("Can I bring my dog on the train?", "Can I bring my bicycle on the train?"),
    ("終電は何時ですか？", "始発は何時ですか？"),
    ("つばめカードの残高を確認したい", "つばめポイントの残高を確認したい"),
    ("指定席を予約したい", "指定席をキャンセルしたい"),
]


def make_cache(*, threshold: float = DEFAULT_THRESHOLD, max_entries: int = 100) -> SemanticCache:
    return SemanticCache(HashingEmbedder(1024), threshold=threshold, max_entries=max_entries)


@pytest.mark.parametrize(("stored", "asked"), PARAPHRASES)
def test_cache_default_threshold_serves_paraphrases(stored: str, asked: str) -> None:
    """At the default threshold, a reworded question finds the answer stored for the original."""
    cache = make_cache()
    cache.put(stored, "the answer")
    hit = cache.search(asked)
    assert hit is not None
    assert hit.query == stored
    assert DEFAULT_THRESHOLD <= hit.similarity <= 1.0


@pytest.mark.parametrize(("stored", "asked"), DIFFERENT_QUESTIONS)
def test_cache_default_threshold_refuses_neighbouring_questions(stored: str, asked: str) -> None:
    """At the default threshold, a different question with mostly the same words misses."""
    cache = make_cache()
    cache.put(stored, "the answer")
    assert cache.search(asked) is None


def test_cache_exact_query_hits_with_similarity_one() -> None:
    """The same query, up to case, width and spacing, hits with similarity exactly 1."""
    cache = make_cache()
    cache.put("Lost and found phone number", "0570-012-777")
    hit = cache.search("  LOST and   found phone number ")
    assert hit is not None
    assert (hit.answer, hit.similarity) == ("0570-012-777", 1.0)


def test_cache_empty_misses() -> None:
    """An empty cache answers None."""
    assert make_cache().search("anything") is None


def test_cache_put_same_query_replaces_the_answer() -> None:
    """Storing a query again keeps one entry holding the newer answer."""
    cache = make_cache()
    cache.put("night bus fare", "1,000 yen")
    cache.put("Night bus fare", "1,200 yen")
    assert len(cache) == 1
    hit = cache.search("night bus fare")
    assert hit is not None and hit.answer == "1,200 yen"


def test_cache_evicts_the_least_recently_used_entry() -> None:
    """When full, storing a new query drops the entry used longest ago, not the oldest stored."""
    cache = make_cache(max_entries=2)
    cache.put("coin locker price", "400 yen")
    cache.put("premium car charge", "1,000 yen")
    assert cache.search("coin locker price") is not None  # now the most recently used
    cache.put("night bus fare", "1,200 yen")
    assert len(cache) == 2
    assert cache.search("premium car charge") is None
    assert cache.search("coin locker price") is not None
    assert cache.search("night bus fare") is not None


def test_cache_grows_past_its_initial_rows_and_reuses_slots() -> None:
    """Hundreds of entries stay findable, and evicted slots never answer."""
    cache = make_cache(max_entries=150)
    for n in range(300):
        cache.put(f"question number {n} about fares", f"answer {n}")
    assert len(cache) == 150
    for n in (150, 220, 299):
        hit = cache.search(f"question number {n} about fares")
        assert hit is not None and hit.answer == f"answer {n}"
    hit = cache.search("question number 3 about fares")
    assert hit is None or hit.answer != "answer 3"


def test_cache_ignores_queries_without_features() -> None:
    """A query of punctuation is neither stored nor answered: nothing could be similar to it."""
    cache = make_cache()
    cache.put("???", "an answer")
    assert len(cache) == 0
    cache.put("wifi", "Tsubame_Free_Wi-Fi")
    assert cache.search("!!!") is None


@pytest.mark.parametrize(("threshold", "max_entries"), [(0.0, 10), (1.5, 10), (0.8, 0)])
def test_cache_rejects_invalid_limits(threshold: float, max_entries: int) -> None:
    """A threshold outside (0, 1] or a size below 1 is refused."""
    with pytest.raises(ValueError):
        make_cache(threshold=threshold, max_entries=max_entries)


def test_cache_stays_bounded_and_consistent_under_threads() -> None:
    """Concurrent puts and searches from threads never exceed the bound nor corrupt entries."""
    cache = make_cache(max_entries=50)

    def work(worker: int) -> None:
        for n in range(200):
            cache.put(f"worker {worker} question {n}", f"{worker}:{n}")
            hit = cache.search(f"worker {worker} question {n}")
            if hit is not None:
                assert hit.answer.count(":") == 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert len(cache) == 50


@pytest.mark.asyncio
async def test_cache_concurrent_tasks_see_their_own_answers() -> None:
    """Many asyncio tasks putting and reading distinct questions each read back their own answer."""
    cache = make_cache(max_entries=1000)

    async def one(n: int) -> str | None:
        cache.put(f"task {n} asks about locker {n}", f"answer {n}")
        await asyncio.sleep(0)  # yield so the tasks interleave
        hit = cache.search(f"task {n} asks about locker {n}")
        return hit.answer if hit else None

    answers = await asyncio.gather(*(one(n) for n in range(100)))
    assert answers == [f"answer {n}" for n in range(100)]
