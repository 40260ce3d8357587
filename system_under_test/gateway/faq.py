"""The bundled FAQ that answers in ``static-only`` mode, when neither search nor generation is available.

Matching runs in-process with the same hashing embedder the vector-db uses, so it needs no dependency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.embedding import HashingEmbedder
from .modes import Language

DEFAULT_FAQ_PATH = Path(__file__).with_name("data") / "faq.json"


@dataclass(frozen=True)
class FaqEntry:
    id: str
    questions: tuple[str, ...]
    answer_ja: str
    answer_en: str

    def answer(self, language: Language) -> str:
        return self.answer_ja if language == "ja" else self.answer_en


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    similarity: float


class Faq:
    """Finds the FAQ entry whose phrasings are most similar to a question, above a threshold."""

    def __init__(self, entries: list[FaqEntry], embedder: HashingEmbedder, threshold: float) -> None:
        if not entries:
            raise ValueError("the FAQ has no entries")
        self._embedder = embedder
        self._threshold = threshold
        self._owners: list[FaqEntry] = []
        phrasings: list[str] = []
        for entry in entries:
            for question in entry.questions:
                self._owners.append(entry)
                phrasings.append(question)
        self._matrix = embedder.embed_many(phrasings)
        self.size = len(entries)

    @classmethod
    def load(cls, path: Path, embedder: HashingEmbedder, threshold: float) -> Faq:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = [
            FaqEntry(
                id=str(item["id"]),
                questions=tuple(str(q) for q in item["questions"]),
                answer_ja=str(item["answer_ja"]),
                answer_en=str(item["answer_en"]),
            )
            for item in raw
        ]
        return cls(entries, embedder, threshold)

    def match(self, question: str) -> FaqMatch | None:
        """The best entry, or None when nothing is similar enough to be a fair answer."""
        scores = self._matrix @ self._embedder.embed(question)
        best = int(np.argmax(scores))
        similarity = float(scores[best])
        if similarity < self._threshold:
            return None
        return FaqMatch(self._owners[best], similarity)
