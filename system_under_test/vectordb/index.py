"""Vector indexes behind one small protocol, so the service does not care where vectors live.

``NumpyIndex`` (the default) keeps every passage vector in one float32 matrix: for a corpus of a few
hundred passages, one matrix-vector product answers a query in microseconds, with no dependency and no
start-up cost. ``QdrantIndex`` shows the same service on a real vector database: qdrant-client is an
optional extra, imported only when this backend is chosen, either in local mode (``:memory:``, no
server) or against a Qdrant server at ``url``.

Vectors are expected L2-normalised (``HashingEmbedder`` guarantees it), so the dot product is the
cosine similarity and both backends return the same scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from system_under_test.vectordb.corpus import Passage
from system_under_test.vectordb.settings import Backend

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


class IndexBackendError(RuntimeError):
    """An index was given vectors of the wrong shape, or its backend is unavailable."""


@dataclass(frozen=True)
class Hit:
    """A passage and its similarity to the query (cosine, higher is closer)."""

    passage: Passage
    score: float


class Index(Protocol):
    """The plug point: add passages with their vectors, then ask for the nearest ``top_k``."""

    @property
    def dim(self) -> int: ...

    def add(self, passages: Sequence[Passage], vectors: Matrix) -> None: ...

    def search(self, vector: Vector, top_k: int) -> list[Hit]: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


def _check_shapes(dim: int, passages: Sequence[Passage], vectors: Matrix) -> None:
    expected = (len(passages), dim)
    if vectors.shape != expected:
        raise IndexBackendError(f"expected vectors of shape {expected}, got {vectors.shape}")


class NumpyIndex:
    """All vectors in one in-process matrix; search is one matrix-vector product and a partial sort."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self._passages: list[Passage] = []
        self._matrix: Matrix = np.zeros((0, dim), dtype=np.float32)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._passages)

    def add(self, passages: Sequence[Passage], vectors: Matrix) -> None:
        _check_shapes(self._dim, passages, vectors)
        # Rebuilding the matrix on each add is O(n), which is fine: the corpus is added once at start-up.
        self._matrix = np.vstack([self._matrix, vectors.astype(np.float32, copy=False)])
        self._passages.extend(passages)

    def search(self, vector: Vector, top_k: int) -> list[Hit]:
        if vector.shape != (self._dim,):
            raise IndexBackendError(f"expected a query vector of shape ({self._dim},), got {vector.shape}")
        if top_k < 1 or not self._passages:
            return []
        scores = self._matrix @ vector
        k = min(top_k, len(self._passages))
        if k < len(self._passages):
            candidates = np.argpartition(-scores, k - 1)[:k]
        else:
            candidates = np.arange(len(self._passages))
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [Hit(self._passages[i], float(scores[i])) for i in ranked]

    def close(self) -> None:
        """Nothing to release: the matrix is ordinary memory."""


class QdrantIndex:
    """Passages in a Qdrant collection, through qdrant-client (local mode or a server).

    The service owns its collection: it is recreated at start-up, so a restarted service never serves
    a stale corpus. Point ids are positions in the local passage list, which maps hits back to passages
    without parsing payloads; the payload keeps the passage id for anyone browsing the collection.
    """

    def __init__(self, dim: int, *, url: str | None = None, collection: str = "passages") -> None:
        try:
            from qdrant_client import QdrantClient, models
        except ImportError:
            raise IndexBackendError(
                "VECTORDB_BACKEND=qdrant needs the optional qdrant-client package: "
                "pip install 'rag-chaos-harness[qdrant]'"
            ) from None
        self._dim = dim
        self._models: Any = models
        self._collection = collection
        self._passages: list[Passage] = []
        where = url or "local :memory:"
        try:
            self._client: Any = QdrantClient(url=url) if url else QdrantClient(location=":memory:")
            if self._client.collection_exists(collection):
                self._client.delete_collection(collection)
            self._client.create_collection(
                collection,
                # DOT on unit vectors is the cosine, without Qdrant re-normalising (and without dividing
                # by zero for a query that has no features).
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT),
            )
        except Exception as exc:  # qdrant-client raises httpx, grpc and its own errors: translate all
            raise IndexBackendError(f"cannot create Qdrant collection {collection!r} at {where}: {exc}") from exc

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._passages)

    def add(self, passages: Sequence[Passage], vectors: Matrix) -> None:
        _check_shapes(self._dim, passages, vectors)
        first = len(self._passages)
        points = [
            self._models.PointStruct(
                id=first + offset, vector=vectors[offset].tolist(), payload={"passage_id": passage.id}
            )
            for offset, passage in enumerate(passages)
        ]
        self._client.upsert(self._collection, points=points, wait=True)
        self._passages.extend(passages)

    def search(self, vector: Vector, top_k: int) -> list[Hit]:
        if top_k < 1 or not self._passages:
            return []
        result = self._client.query_points(self._collection, query=vector.tolist(), limit=top_k)
        return [Hit(self._passages[int(point.id)], float(point.score)) for point in result.points]

    def close(self) -> None:
        """Release the client's connections (a no-op in local mode)."""
        self._client.close()


def open_index(backend: Backend, dim: int, *, qdrant_url: str | None = None) -> Index:
    """An empty index of the chosen backend."""
    if backend is Backend.QDRANT:
        return QdrantIndex(dim, url=qdrant_url)
    return NumpyIndex(dim)
