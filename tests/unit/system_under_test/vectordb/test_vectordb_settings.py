"""Vector-db settings: defaults match the design's addresses, bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from system_under_test.common.env import SettingsError
from system_under_test.vectordb.settings import BUNDLED_CORPUS, Backend, VectorDbSettings, from_env


def test_settings_defaults_match_the_design() -> None:
    """With an empty environment the service listens on 127.0.0.1:8001 with the bundled corpus in memory."""
    settings = from_env({})
    assert settings == VectorDbSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.corpus_path == BUNDLED_CORPUS and BUNDLED_CORPUS.is_file()
    assert (settings.dim, settings.cache_threshold, settings.cache_max_entries) == (1024, 0.8, 10_000)
    assert (settings.backend, settings.qdrant_url, settings.log_level) == (Backend.MEMORY, None, "INFO")


def test_settings_read_every_variable() -> None:
    """Each documented variable reaches its setting."""
    settings = from_env(
        {
            "HOST": "0.0.0.0",
            "PORT": "18001",
            "VECTORDB_CORPUS": "/tmp/other.jsonl",
            "VECTORDB_DIM": "2048",
            "VECTORDB_CACHE_THRESHOLD": "0.9",
            "VECTORDB_CACHE_MAX": "50",
            "VECTORDB_BACKEND": "Qdrant",
            "QDRANT_URL": "http://127.0.0.1:6333",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings == VectorDbSettings(
        host="0.0.0.0",
        port=18001,
        corpus_path=Path("/tmp/other.jsonl"),
        dim=2048,
        cache_threshold=0.9,
        cache_max_entries=50,
        backend=Backend.QDRANT,
        qdrant_url="http://127.0.0.1:6333",
        log_level="DEBUG",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("VECTORDB_DIM", "1"),
        ("VECTORDB_CACHE_THRESHOLD", "0"),
        ("VECTORDB_CACHE_THRESHOLD", "1.2"),
        ("VECTORDB_CACHE_MAX", "0"),
        ("VECTORDB_BACKEND", "faiss"),
        ("LOG_LEVEL", "chatty"),
    ],
)
def test_settings_reject_bad_values_naming_the_variable(name: str, value: str) -> None:
    """An unusable value raises SettingsError whose message names the variable."""
    with pytest.raises(SettingsError, match=name):
        from_env({name: value})


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after they are built."""
    settings = VectorDbSettings()
    with pytest.raises(AttributeError):
        settings.port = 9999  # type: ignore[misc]
