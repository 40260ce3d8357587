"""The semantic answer cache: answers stored by question, found again by a similar question.

The gateway serves from it when the LLM is down (mode ``degraded-cache-only``), so a hit must be the
answer to *the same question* worded differently, never to a neighbouring one: the threshold is a
cosine similarity between the two queries' embeddings (see ``VectorDbSettings.cache_threshold``).

Layout: a float32 matrix with one row per slot, plus an LRU order of normalised query keys. A lookup
is one matrix-vector product over the used slots (about 0.15 ms per 1,000 entries at 1024 dimensions);
freed slots hold zero rows, which are similar to nothing, and are reused before the matrix grows.
The matrix grows by doubling up to ``max_entries`` rows (10,000 x 1024 float32 is 40 MB).

Concurrency: no method awaits, so on one event loop every call is atomic; a lock also makes the
cache safe from threads (sync endpoints, ``asyncio.to_thread``), at the price of an uncontended acquire.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from system_under_test.common.embedding import HashingEmbedder

_INITIAL_ROWS = 64


@dataclass(frozen=True)
class CacheHit:
    """A cached answer, the query it was stored for, and how similar that query is to the asked one."""

    query: str
    answer: str
    similarity: float


@dataclass(frozen=True)
class _Entry:
    query: str
    answer: str


def _key(query: str) -> str:
    """Queries that differ only in width, case or spacing share one entry."""
    return " ".join(unicodedata.normalize("NFKC", query).lower().split())


class SemanticCache:
    """A bounded LRU map from queries to answers, searched by embedding similarity."""

    def __init__(self, embedder: HashingEmbedder, *, threshold: float, max_entries: int) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._embedder = embedder
        self._threshold = threshold
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._vectors = np.zeros((min(_INITIAL_ROWS, max_entries), embedder.dim), dtype=np.float32)
        self._slots: list[_Entry | None] = []  # slot -> entry; None once evicted
        self._free: list[int] = []
        self._order: OrderedDict[str, int] = OrderedDict()  # key -> slot, least recently used first

    @property
    def threshold(self) -> float:
        return self._threshold

    def __len__(self) -> int:
        return len(self._order)

    def put(self, query: str, answer: str) -> None:
        """Store ``answer`` for ``query``, replacing the answer of the same query, evicting the LRU.

        A query with no usable features (only punctuation, say) is not stored: nothing could find it.
        """
        vector = self._embedder.embed(query)
        if not vector.any():
            return
        key = _key(query)
        with self._lock:
            slot = self._order.get(key)
            if slot is None:
                if len(self._order) >= self._max_entries:
                    self._evict_oldest()
                slot = self._allocate()
            self._vectors[slot] = vector
            self._slots[slot] = _Entry(query, answer)
            self._order[key] = slot
            self._order.move_to_end(key)

    def search(self, query: str) -> CacheHit | None:
        """The most similar cached query's answer, if its similarity reaches the threshold."""
        vector = self._embedder.embed(query)
        if not vector.any():
            return None
        key = _key(query)
        with self._lock:
            if not self._order:
                return None
            exact = self._order.get(key)
            if exact is not None:
                slot, similarity = exact, 1.0
            else:
                scores = self._vectors[: len(self._slots)] @ vector
                slot = int(np.argmax(scores))
                similarity = min(1.0, float(scores[slot]))
                if similarity < self._threshold:
                    return None
            entry = self._slots[slot]
            if entry is None:  # impossible: free slots are zero rows and the threshold is > 0
                return None
            self._order.move_to_end(_key(entry.query))
            return CacheHit(entry.query, entry.answer, similarity)

    def _evict_oldest(self) -> None:
        _, slot = self._order.popitem(last=False)
        self._slots[slot] = None
        self._vectors[slot] = 0.0
        self._free.append(slot)

    def _allocate(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._slots)
        if slot == len(self._vectors):
            rows = min(2 * len(self._vectors), self._max_entries)
            grown = np.zeros((rows, self._vectors.shape[1]), dtype=np.float32)
            grown[:slot] = self._vectors
            self._vectors = grown
        self._slots.append(None)
        return slot
