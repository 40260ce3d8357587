"""The vector-db's settings: built once from the environment, then passed down, never re-read.

Why a frozen dataclass: tests build settings directly (tiny caches, another corpus) without touching
``os.environ``, and nothing can change a setting while the service runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from system_under_test.common.env import SettingsError, env_float, env_int, env_str

BUNDLED_CORPUS = Path(__file__).resolve().parent / "data" / "corpus.jsonl"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Backend(StrEnum):
    """Where passage vectors live: a numpy matrix in this process, or Qdrant (local or a server)."""

    MEMORY = "memory"
    QDRANT = "qdrant"


@dataclass(frozen=True)
class VectorDbSettings:
    """Everything the service reads from its environment.

    ``cache_threshold`` is the cosine similarity between two queries' embeddings at or above which a
    cached answer is served for the new query. 0.8 lets rewordings of one question hit ("How do I
    charge my card?" / "Where can I charge my card?") while neighbouring questions miss ("charge" /
    "refund" my card score about 0.65 with the bundled embedder).
    """

    host: str = "127.0.0.1"
    port: int = 8001
    corpus_path: Path = BUNDLED_CORPUS
    dim: int = 1024
    cache_threshold: float = 0.8
    cache_max_entries: int = 10_000
    backend: Backend = Backend.MEMORY
    qdrant_url: str | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be in 0..65535, got {self.port}")
        if not 0.0 < self.cache_threshold <= 1.0:
            raise SettingsError(f"cache threshold must be in (0, 1], got {self.cache_threshold}")
        if self.dim < 2:
            raise SettingsError(f"embedding dim must be >= 2, got {self.dim}")
        if self.cache_max_entries < 1:
            raise SettingsError(f"cache size must be >= 1, got {self.cache_max_entries}")


def from_env(env: Mapping[str, str]) -> VectorDbSettings:
    """Settings from ``env`` (normally ``os.environ``); a bad value raises ``SettingsError`` naming it."""
    backend_raw = env_str(env, "VECTORDB_BACKEND", Backend.MEMORY.value).strip().lower()
    try:
        backend = Backend(backend_raw)
    except ValueError:
        choices = ", ".join(b.value for b in Backend)
        raise SettingsError(f"VECTORDB_BACKEND={backend_raw!r} is not one of: {choices}") from None
    threshold = env_float(env, "VECTORDB_CACHE_THRESHOLD", 0.8, minimum=0.0)
    if not 0.0 < threshold <= 1.0:
        raise SettingsError(f"VECTORDB_CACHE_THRESHOLD={threshold!r} must be in (0, 1]")
    qdrant_url = env_str(env, "QDRANT_URL", "") or None
    log_level = env_str(env, "LOG_LEVEL", "INFO").strip().upper()
    if log_level not in _LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL={log_level!r} is not one of: {', '.join(_LOG_LEVELS)}")
    return VectorDbSettings(
        host=env_str(env, "HOST", "127.0.0.1"),
        port=env_int(env, "PORT", 8001, minimum=1),
        corpus_path=Path(env_str(env, "VECTORDB_CORPUS", str(BUNDLED_CORPUS))),
        dim=env_int(env, "VECTORDB_DIM", 1024, minimum=2),
        cache_threshold=threshold,
        cache_max_entries=env_int(env, "VECTORDB_CACHE_MAX", 10_000, minimum=1),
        backend=backend,
        qdrant_url=qdrant_url,
        log_level=log_level,
    )
