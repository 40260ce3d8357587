"""Script-aware text measures: language, approximate tokens, sentences and relevance terms.

Japanese writes no spaces between words, so a word tokenizer would see one "word" per sentence.
Overlapping character bigrams are the usual cheap substitute (Lucene's CJK analyzer indexes the same
way); Latin text is split into lower-cased, lightly stemmed words. Token counts follow the same split
(one token per Latin word, one per CJK character), which is close enough to a real tokenizer for
``max_tokens`` and for pacing the answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["ja", "en"]

# Kana and kanji: their presence marks Japanese text.
_JA = "\u3005\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Everything that a tokenizer would count one character at a time: Japanese plus CJK punctuation
# and full-width forms.
_CJK = _JA + "\u3000-\u303f\uff00-\uffef"

_JAPANESE_RE = re.compile(f"[{_JA}]")
# A token carries its leading whitespace, so joining the tokens gives back the text exactly; that is
# what lets a stream send tokens in chunks and a truncated answer keep its spacing.
_TOKEN_RE = re.compile(rf"\s*(?:[{_CJK}]|[^\s{_CJK}]+)")
_TERM_RE = re.compile(rf"[{_JA}]+|[^\W_{_JA}]+")
_HIRAGANA_RE = re.compile(r"[\u3040-\u309f]+")
# Break after Japanese full stops, after Latin ones only when whitespace follows (keeps "3.5" whole),
# and at line breaks.
_SENTENCE_BREAK_RE = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+|\n+")

_EN_STOPWORDS = frozenset(
    """a about an and any are as at be been but by can could do does did for from has have how i if in
    into is it its me my no not of on or our so than that the their them then there these they this to
    was we were what when where which who whom why will with would you your""".split()
)


def detect_language(text: str) -> Language:
    """``"ja"`` when the text holds any kana or kanji, else ``"en"``."""
    return "ja" if _JAPANESE_RE.search(text) else "en"


def tokens(text: str) -> list[str]:
    """The text's approximate tokens; ``"".join(tokens(t)) == t.rstrip()``."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens ``tokens`` would return, for usage accounting."""
    return sum(1 for _ in _TOKEN_RE.finditer(text))


def split_sentences(text: str) -> list[str]:
    """The text's sentences, stripped, without empty ones."""
    return [part.strip() for part in _SENTENCE_BREAK_RE.split(text) if part and part.strip()]


def terms(text: str) -> list[str]:
    """Relevance terms: character bigrams for Japanese runs, stemmed words for Latin ones.

    NFKC folds full-width digits and letters and half-width katakana onto their usual forms, so
    "３０日" in a passage matches "30日" in a question.
    """
    found: list[str] = []
    for run in _TERM_RE.findall(unicodedata.normalize("NFKC", text).lower()):
        if _JAPANESE_RE.match(run):
            found.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        elif run not in _EN_STOPWORDS:
            found.append(_stem(run))
    return found


def is_function_term(term: str) -> bool:
    """True for all-hiragana terms: mostly particles and verb endings ("ます", "です"), weak evidence."""
    return _HIRAGANA_RE.fullmatch(term) is not None


def _stem(word: str) -> str:
    # Just enough to match "refunds"/"refunded"/"refund"; a real stemmer is not worth a dependency.
    if word.endswith("ss"):
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
