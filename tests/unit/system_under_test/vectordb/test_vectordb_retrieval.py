"""The retrieval check: the bundled eval questions find their source passage in the top 3."""

from __future__ import annotations

import json
import time

from system_under_test.common.embedding import HashingEmbedder
from system_under_test.vectordb.corpus import load_corpus
from system_under_test.vectordb.index import NumpyIndex
from system_under_test.vectordb.settings import BUNDLED_CORPUS, VectorDbSettings

EVAL_QUESTIONS = BUNDLED_CORPUS.with_name("eval_questions.jsonl")
REQUIRED_TOP3_RATE = 0.9
TOP_K = 3


def test_retrieval_finds_the_source_passage_in_the_top_3_for_90_percent() -> None:
    """With the default settings, at least 90% of eval questions rank their source passage in the top 3."""
    settings = VectorDbSettings()
    embedder = HashingEmbedder(settings.dim)
    passages = load_corpus(BUNDLED_CORPUS)
    index = NumpyIndex(embedder.dim)
    index.add(passages, embedder.embed_many([p.searchable_text for p in passages]))
    questions = [json.loads(line) for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines()]

    found: dict[str, list[bool]] = {"ja": [], "en": []}
    misses: list[str] = []
    search_seconds = 0.0
    for question in questions:
        started = time.perf_counter()
        hits = index.search(embedder.embed(question["question"]), TOP_K)
        search_seconds += time.perf_counter() - started
        ids = [hit.passage.id for hit in hits]
        hit = question["passage_id"] in ids
        found[question["passage_id"].rsplit("-", 1)[1]].append(hit)
        if not hit:
            misses.append(f"  {question['question']!r}: want {question['passage_id']}, got {ids}")

    total = found["ja"] + found["en"]
    rate = sum(total) / len(total)
    print(
        f"\nretrieval top-{TOP_K}: {rate:.1%} of {len(total)} questions "
        f"(ja {sum(found['ja'])}/{len(found['ja'])}, en {sum(found['en'])}/{len(found['en'])}); "
        f"embed+search {search_seconds / len(total) * 1e6:.0f} µs per query"
    )
    print("\n".join(misses))
    assert rate >= REQUIRED_TOP3_RATE, "\n".join(misses)
