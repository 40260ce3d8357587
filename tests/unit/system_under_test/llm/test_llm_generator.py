"""The embedded extractive generator and the text measures it stands on."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from system_under_test.llm.generator import (
    CONTEXT_PREFIX,
    Passage,
    format_context,
    generate,
    parse_context,
    read_prompt,
)
from system_under_test.llm.text import count_tokens, detect_language, split_sentences, terms, tokens

PASSAGES = (
    Passage(
        "p012",
        "Returns",
        "Items can be returned within 30 days of delivery. "
        "Refunds are issued to the original payment method within 5 business days.",
    ),
    Passage("p007", "Shipping", "Orders ship within two business days. Express shipping costs an extra fee."),
    Passage("p101", "返品ポリシー", "商品到着後30日以内であれば返品できます。返金は5営業日以内に行われます。"),
    Passage("p102", "配送について", "ご注文は2営業日以内に発送されます。お急ぎ便は追加料金でご利用いただけます。"),
    Passage("p103", "アカウント", "パスワードはログイン画面から再設定できます。"),
)


@dataclass(frozen=True)
class Msg:
    role: str
    content: str


def ask(question: str, *, passages: tuple[Passage, ...] | None = PASSAGES, max_tokens: int = 256) -> str:
    context = [] if passages is None else [Msg("system", format_context(passages))]
    return generate([*context, Msg("user", question)], max_tokens).text


def test_parse_context_reads_back_what_format_context_wrote() -> None:
    """Ids, titles and texts survive a round trip through the context message format."""
    assert parse_context(format_context(PASSAGES)) == PASSAGES


def test_parse_context_ignores_system_messages_without_the_prefix() -> None:
    """An ordinary system instruction is not mistaken for retrieved context."""
    assert parse_context("You are a helpful assistant.") is None


def test_parse_context_keeps_a_blank_line_paragraph_in_its_passage() -> None:
    """A block that does not start with [id] continues the previous passage."""
    content = CONTEXT_PREFIX + "[a] T: First paragraph.\n\nSecond paragraph.\n\n[b] U: Other."
    passages = parse_context(content)
    assert passages is not None
    assert [p.id for p in passages] == ["a", "b"]
    assert passages[0].text == "First paragraph.\n\nSecond paragraph."


def test_parse_context_accepts_a_passage_without_title() -> None:
    """A passage written as "[id] text" keeps all its text and an empty title."""
    passages = parse_context(CONTEXT_PREFIX + "[x] Just text without a title")
    assert passages == (Passage("x", "", "Just text without a title"),)


def test_read_prompt_takes_the_last_user_message_as_question() -> None:
    """Earlier turns are history; the question is the latest user message."""
    prompt = read_prompt([Msg("user", "old"), Msg("assistant", "reply"), Msg("user", "new question")])
    assert prompt.question == "new question"
    assert prompt.passages is None


def test_generate_cites_the_most_relevant_english_sentence() -> None:
    """An English question gets the matching sentence of the right passage, cited by id."""
    answer = ask("How long do refunds take?")
    assert "Refunds are issued to the original payment method within 5 business days." in answer
    assert "[p012]" in answer
    assert "Shipping" not in answer and "[p007]" not in answer


def test_generate_answers_a_japanese_question_in_japanese_from_bigrams() -> None:
    """Japanese, which has no spaces, is matched by character bigrams and framed in Japanese."""
    answer = ask("返金はいつ行われますか？")
    assert answer.startswith("資料によると")
    assert "返金は5営業日以内に行われます。 [p101]" in answer


def test_generate_does_not_cite_sentences_sharing_only_particles() -> None:
    """Overlap in verb endings like "できます" alone does not make a sentence relevant."""
    answer = ask("返品はできますか")
    assert "[p101]" in answer
    assert "パスワード" not in answer


def test_generate_combines_sentences_from_several_passages() -> None:
    """A question spanning two topics cites a sentence from each passage, at most three sentences."""
    answer = ask("How many business days for refunds and for orders to ship?")
    assert "[p012]" in answer and "[p007]" in answer
    assert answer.count("[p") <= 3


def test_generate_falls_back_to_the_top_passage_when_nothing_overlaps() -> None:
    """With context but no overlap, it says so and quotes the top-ranked passage."""
    answer = ask("What is the meaning of life?")
    assert answer.startswith("The documents do not answer this directly.")
    assert "Items can be returned within 30 days of delivery. [p012]" in answer


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How do I reset my password?", "I have no specific documents"),
        ("パスワードを忘れました", "参照できる具体的な資料がない"),
    ],
)
def test_generate_without_context_says_it_has_no_documents(question: str, expected: str) -> None:
    """Without a context message the answer is general, says so, and uses the question's language."""
    answer = ask(question, passages=None)
    assert expected in answer
    assert "[" not in answer.replace(f"「{question}」", "")


def test_generate_treats_an_empty_context_like_no_context() -> None:
    """A context message with no passages (no search hits) gets the no-documents answer."""
    assert "I have no specific documents" in ask("Where is my order?", passages=())


def test_generate_is_deterministic() -> None:
    """The same messages always produce the same answer."""
    assert ask("Can I return an item?") == ask("Can I return an item?")


def test_generate_stops_at_max_tokens_with_length_reason() -> None:
    """An answer longer than max_tokens is cut to exactly that many tokens and says why."""
    messages = [Msg("system", format_context(PASSAGES)), Msg("user", "How long do refunds take?")]
    full = generate(messages, 256)
    cut = generate(messages, 5)
    assert full.finish_reason == "stop"
    assert (cut.finish_reason, cut.completion_tokens) == ("length", 5)
    assert full.text.startswith(cut.text)


def test_detect_language_marks_kana_or_kanji_as_japanese() -> None:
    """Kana or kanji anywhere means Japanese; plain Latin text means English."""
    assert [detect_language(t) for t in ("返品", "カート", "Is it free?")] == ["ja", "ja", "en"]


def test_tokens_join_back_to_the_text() -> None:
    """Tokens keep their spacing, so a stream of them rebuilds the exact answer."""
    text = "Based on the documents: 返品できます。 [p101]"
    assert "".join(tokens(text)) == text


def test_count_tokens_counts_latin_words_and_cjk_characters() -> None:
    """One token per Latin word and one per Japanese character (punctuation included)."""
    assert count_tokens("refunds take 5 days") == 4
    assert count_tokens("返品できます。") == 7


def test_terms_use_bigrams_for_japanese_and_stemmed_words_for_latin() -> None:
    """Japanese runs become overlapping bigrams; English words lose stop words and plural endings."""
    assert terms("返品する") == ["返品", "品す", "する"]
    assert terms("The refunds") == ["refund"]


def test_split_sentences_keeps_decimals_and_splits_japanese_full_stops() -> None:
    """A Latin full stop splits only before whitespace; a Japanese one always splits."""
    assert split_sentences("Version 3.5 is out. Update now.") == ["Version 3.5 is out.", "Update now."]
    assert split_sentences("返品できます。送料は無料です。") == ["返品できます。", "送料は無料です。"]
