"""Deterministic text embeddings that need no model, no download and no network.

Why not a neural sentence encoder: the reference system must start offline, in a bare container, in
well under a second, and behave the same on every machine so that chaos runs are reproducible. A
hashed bag of features is good enough for a support corpus whose questions share vocabulary with their
answers, and it is cheap (tens of microseconds per short query).

Why these features: Japanese has no spaces, so words cannot be split without a dictionary. Character
bigrams of CJK runs are the classic dictionary-free substitute (``遅延証明書`` and ``遅延の証明`` share
``遅延`` and ``証明``), and single kanji/katakana carry meaning on their own. Hiragana are mostly
particles and inflections (``を``, ``ます``), so single hiragana are dropped and all-hiragana bigrams
weigh less, though not much less: verbs such as なくした live there. Latin text gets word unigrams
(plurals folded, a few stopwords dropped) plus character trigrams of each word at a lower weight, so
that ``charge``, ``charging`` and ``charged`` still meet.

    text --NFKC, lowercase--> runs --features--> crc32 --> signed bucket --> sublinear tf --> L2 norm

Hashing uses ``zlib.crc32`` (never Python's ``hash()``, which is salted per process), so a vector is
the same in every process: the gateway and the vector-db embed independently and still agree.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]

# Weights were chosen on the bundled eval questions (tests/.../test_vectordb_retrieval.py) and on the
# answer-cache paraphrase pairs (test_vectordb_cache.py); change them only with both tests in view.
_WORD_WEIGHT = 1.0
_WORD_TRIGRAM_WEIGHT = 0.4
_CJK_BIGRAM_WEIGHT = 1.0
_HIRAGANA_BIGRAM_WEIGHT = 0.7
_CJK_UNIGRAM_WEIGHT = 0.8

# Question words are stopwords on purpose: "how do I charge" and "where can I charge" ask the same
# thing of a support corpus, and keeping them would make the answer cache miss on such paraphrases.
_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for from with about into as is are am was were be been
    being do does did doing i me my mine we our you your it its this that these those there here what
    which who whom whose when where why how can could would should will shall may might must have has
    had having so than then too very just also please any some get got""".split()
)

# Thousands separators would split "1,000" into two tokens that no longer match "1000円".
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LATIN = r"[a-z0-9]+(?:['’][a-z]+)?"
_CJK = r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u3005\u3400-\u4dbf\u4e00-\u9fff]+"
_TOKEN = re.compile(f"(?P<latin>{_LATIN})|(?P<cjk>{_CJK})")


def _is_hiragana(char: str) -> bool:
    return "\u3041" <= char <= "\u3096"


def _is_meaningful_alone(char: str) -> bool:
    """Kanji and katakana; not hiragana (particles) nor the long-vowel and repeat marks."""
    return not _is_hiragana(char) and char not in "ー々"


def _singular(word: str) -> str:
    """A crude plural stripper: "cards" and "card" are the same question; "pass" and "bus" stay."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _features(text: str) -> Counter[str]:
    """Counts of prefixed features; the prefix keeps a word apart from an identical trigram."""
    counts: Counter[str] = Counter()
    normalized = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text).lower())
    for match in _TOKEN.finditer(normalized):
        latin = match.group("latin")
        if latin is not None:
            if latin in _STOPWORDS:
                continue
            latin = _singular(latin)
            counts["w:" + latin] += 1
            if latin.isdigit():
                continue  # 1000 and 10000 share trigrams but are different prices
            padded = f"<{latin}>"
            for i in range(len(padded) - 2):
                counts["t:" + padded[i : i + 3]] += 1
            continue
        run = match.group("cjk")
        for i, char in enumerate(run):
            if _is_meaningful_alone(char):
                counts["u:" + char] += 1
            if i + 1 < len(run):
                pair = run[i : i + 2]
                prefix = "h:" if _is_hiragana(pair[0]) and _is_hiragana(pair[1]) else "b:"
                counts[prefix + pair] += 1
    return counts


_WEIGHTS = {
    "w": _WORD_WEIGHT,
    "t": _WORD_TRIGRAM_WEIGHT,
    "b": _CJK_BIGRAM_WEIGHT,
    "h": _HIRAGANA_BIGRAM_WEIGHT,
    "u": _CJK_UNIGRAM_WEIGHT,
}


class HashingEmbedder:
    """Maps text to an L2-normalised float32 vector of ``dim`` signed hashed features.

    Cosine similarity of two vectors is their dot product. Text with no usable features (empty,
    punctuation, only stopwords) maps to the zero vector, which is similar to nothing.
    """

    def __init__(self, dim: int = 1024) -> None:
        if dim < 2:
            raise ValueError(f"embedding dim must be >= 2, got {dim}")
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, text: str) -> Vector:
        """One text as a vector of shape ``(dim,)``."""
        counts = _features(text)
        vector = np.zeros(self._dim, dtype=np.float32)
        if not counts:
            return vector
        buckets: list[int] = []
        values: list[float] = []
        for feature, count in counts.items():
            digest = zlib.crc32(feature.encode("utf-8"))
            buckets.append(digest % self._dim)
            # The top bit is independent of the bucket (the low bits) for any dim below 2**31.
            sign = -1.0 if digest & 0x80000000 else 1.0
            values.append(sign * _WEIGHTS[feature[0]] * (1.0 + math.log(count)))
        summed = np.bincount(np.asarray(buckets), weights=np.asarray(values), minlength=self._dim)
        norm = float(np.linalg.norm(summed))
        if norm > 0.0:
            vector[:] = summed / norm
        return vector

    def embed_many(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Several texts as a matrix of shape ``(len(texts), dim)``, one row per text."""
        matrix = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self.embed(text)
        return matrix
