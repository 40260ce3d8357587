"""The embedded model: a grounded, extractive answer built from the context the gateway sends.

    messages ──► Prompt(question, passages | None)
                        │
        no context? ────┼──► a general answer that says no documents are at hand
                        ▼
        every sentence of every passage, scored by IDF-weighted term overlap with the question
                        │
                        ▼
        the best 1-3 sentences, each cited as "[<id>]", framed in the question's language
                        │
                        ▼
        cut at max_tokens ──► Completion(tokens, finish_reason)

It needs no model and no network, and it is deterministic on purpose: the same request always gets
the same answer, so answers from a normal, a retried and a cached path can be compared in a chaos run,
while the words still come from the retrieved passages (a wrong context shows in the answer).

The context arrives as a system message in the format ``format_context`` writes::

    Context:
    [p012] Returns: Items can be returned within 30 days.

    [p007] Shipping: Orders ship in two business days.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from system_under_test.llm.text import detect_language, is_function_term, split_sentences, terms, tokens

CONTEXT_PREFIX = "Context:\n"
MAX_SENTENCES = 3

FinishReason = Literal["stop", "length"]

_BLOCK_BREAK_RE = re.compile(r"\n[ \t]*\n")
_PASSAGE_HEAD_RE = re.compile(r"\[([^\]\n]+)\][ \t]*(.*)", re.DOTALL)
_MAX_TITLE_CHARS = 200
# A sentence joins the answer when it scores at least this share of the best one: a second sentence
# that barely touches the question would dilute a precise answer.
_KEEP_RATIO = 0.5
# Matching a passage's title is evidence for all its sentences, but weaker than the sentence's own words.
_TITLE_WEIGHT = 0.5
_FUNCTION_TERM_WEIGHT = 0.3
_TOPIC_CHARS = 60


class Turn(Protocol):
    """One chat message as the generator reads it (the API's pydantic model satisfies this)."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


@dataclass(frozen=True)
class Passage:
    """One retrieved passage: the id the answer cites, its title and its text."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """What the generator answers: the question and the passages (``None`` when no context was sent)."""

    question: str
    passages: tuple[Passage, ...] | None


@dataclass(frozen=True)
class Completion:
    """A generated answer as tokens, so a stream can send them in paced chunks."""

    tokens: tuple[str, ...]
    finish_reason: FinishReason

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class _Phrases:
    grounded: str
    closest: str
    no_context: str
    no_context_no_topic: str


_EN = _Phrases(
    grounded="Based on the documents: {body}",
    closest='The documents do not answer this directly. The closest one, "{title}", says: {body}',
    no_context=(
        'I have no specific documents at hand right now, so this is only a general answer: for details about '
        '"{topic}", please check the official documentation or contact support.'
    ),
    no_context_no_topic=(
        "I have no specific documents at hand right now, so this is only a general answer: please check the "
        "official documentation or contact support."
    ),
)
_JA_PHRASES = _Phrases(
    grounded="資料によると、{body}",
    closest="資料に直接の回答は見つかりませんでした。最も近い資料「{title}」には次のようにあります。{body}",
    no_context=(
        "現在参照できる具体的な資料がないため、一般的な回答になります。「{topic}」の詳細については、"
        "公式ドキュメントをご確認いただくか、サポートまでお問い合わせください。"
    ),
    no_context_no_topic=(
        "現在参照できる具体的な資料がないため、一般的な回答になります。詳細については、"
        "公式ドキュメントをご確認いただくか、サポートまでお問い合わせください。"
    ),
)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage; ``order`` is its position in the whole context, for stable ties."""

    passage: Passage
    text: str
    order: int


def format_context(passages: Iterable[Passage]) -> str:
    """The system message content that carries ``passages``; ``parse_context`` reads it back."""
    blocks = [f"[{p.id}] {p.title}: {p.text}" for p in passages]
    return CONTEXT_PREFIX + "\n\n".join(blocks)


def parse_context(content: str) -> tuple[Passage, ...] | None:
    """The passages of a context message, or ``None`` when ``content`` is not one.

    A block that does not start with ``[id]`` continues the previous passage, so a passage whose text
    holds a blank line is not cut in two.
    """
    stripped = content.lstrip()
    if not stripped.startswith(CONTEXT_PREFIX):
        return None
    passages: list[Passage] = []
    for block in _BLOCK_BREAK_RE.split(stripped[len(CONTEXT_PREFIX) :]):
        block = block.strip()
        if not block:
            continue
        head = _PASSAGE_HEAD_RE.fullmatch(block)
        if head is None:
            if passages:
                last = passages[-1]
                passages[-1] = Passage(last.id, last.title, f"{last.text}\n\n{block}")
            continue
        title, sep, text = head.group(2).partition(": ")
        if not sep or "\n" in title or len(title) > _MAX_TITLE_CHARS:
            title, text = "", head.group(2)
        passages.append(Passage(head.group(1).strip(), title.strip(), text.strip()))
    return tuple(passages)


def read_prompt(messages: Sequence[Turn]) -> Prompt:
    """The last user message is the question; the last context system message gives the passages."""
    passages: tuple[Passage, ...] | None = None
    for message in messages:
        if message.role == "system":
            parsed = parse_context(message.content)
            if parsed is not None:
                passages = parsed
    questions = [m.content for m in messages if m.role == "user"]
    question = questions[-1] if questions else messages[-1].content if messages else ""
    return Prompt(question.strip(), passages)


def generate(messages: Sequence[Turn], max_tokens: int) -> Completion:
    """The answer to ``messages``, cut to at most ``max_tokens`` tokens."""
    return truncate(answer(read_prompt(messages)), max_tokens)


def answer(prompt: Prompt) -> str:
    """The full answer text for ``prompt``, in the question's language."""
    phrases = _JA_PHRASES if detect_language(prompt.question) == "ja" else _EN
    if not prompt.passages:
        topic = _topic(prompt.question)
        return phrases.no_context.format(topic=topic) if topic else phrases.no_context_no_topic
    chosen = select_sentences(prompt.question, prompt.passages)
    if chosen:
        return phrases.grounded.format(body=_cite(chosen))
    first = _sentences(prompt.passages[:1])
    if not first:
        topic = _topic(prompt.question)
        return phrases.no_context.format(topic=topic) if topic else phrases.no_context_no_topic
    title = prompt.passages[0].title or prompt.passages[0].id
    return phrases.closest.format(title=title, body=_cite(first[:1]))


def truncate(text: str, max_tokens: int) -> Completion:
    """``text`` as tokens, cut to ``max_tokens`` with ``finish_reason="length"`` when cut."""
    all_tokens = tokens(text)
    if len(all_tokens) > max_tokens:
        return Completion(tuple(all_tokens[:max_tokens]), "length")
    return Completion(tuple(all_tokens), "stop")


def select_sentences(question: str, passages: Sequence[Passage]) -> list[Sentence]:
    """Up to ``MAX_SENTENCES`` sentences most relevant to ``question``, best first; empty when none is.

    A term's weight is its inverse document frequency over the context's sentences, so words every
    passage shares ("ます", "order" in an order FAQ) count little and the distinctive ones decide.
    """
    sentences = _sentences(passages)
    sentence_terms = [frozenset(terms(s.text)) for s in sentences]
    frequency = Counter(term for found in sentence_terms for term in found)
    count = len(sentences)

    def weight(term: str) -> float:
        idf = math.log(1.0 + count / max(1, frequency[term]))
        return idf * (_FUNCTION_TERM_WEIGHT if is_function_term(term) else 1.0)

    wanted = frozenset(terms(question))
    title_terms = {p: frozenset(terms(p.title)) for p in passages}
    scored: list[tuple[float, Sentence]] = []
    for sentence, found in zip(sentences, sentence_terms, strict=True):
        own = wanted & found
        from_title = (wanted & title_terms[sentence.passage]) - own
        # Sharing only particles and verb endings ("できます") is no evidence that a sentence is on topic.
        if all(is_function_term(term) for term in own | from_title):
            continue
        score = sum(map(weight, own)) + _TITLE_WEIGHT * sum(map(weight, from_title))
        scored.append((score, sentence))
    scored.sort(key=lambda pair: (-pair[0], pair[1].order))
    chosen: list[Sentence] = []
    for score, sentence in scored:
        if len(chosen) == MAX_SENTENCES or score < _KEEP_RATIO * scored[0][0]:
            break
        if all(sentence.text != c.text for c in chosen):
            chosen.append(sentence)
    return chosen


def _sentences(passages: Sequence[Passage]) -> list[Sentence]:
    found: list[Sentence] = []
    for passage in passages:
        for text in split_sentences(passage.text):
            found.append(Sentence(passage, text, len(found)))
    return found


def _cite(chosen: Sequence[Sentence]) -> str:
    # Consecutive sentences from one passage share a single citation after the last of them.
    parts: list[str] = []
    for i, sentence in enumerate(chosen):
        following = chosen[i + 1] if i + 1 < len(chosen) else None
        same_source = following is not None and following.passage.id == sentence.passage.id
        parts.append(sentence.text if same_source else f"{sentence.text} [{sentence.passage.id}]")
    return " ".join(parts)


def _topic(question: str) -> str:
    topic = " ".join(question.split()).rstrip("?？。.!！")
    return topic if len(topic) <= _TOPIC_CHARS else topic[:_TOPIC_CHARS].rstrip() + "…"


__all__ = [
    "CONTEXT_PREFIX",
    "Completion",
    "FinishReason",
    "Passage",
    "Prompt",
    "Sentence",
    "Turn",
    "answer",
    "format_context",
    "generate",
    "parse_context",
    "read_prompt",
    "select_sentences",
    "truncate",
]
