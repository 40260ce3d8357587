"""The bundled data: a bilingual corpus, eval questions that point at it, and the gateway's FAQ."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from system_under_test.vectordb.corpus import CorpusError, load_corpus, parse_passages
from system_under_test.vectordb.settings import BUNDLED_CORPUS

EVAL_QUESTIONS = BUNDLED_CORPUS.with_name("eval_questions.jsonl")
FAQ = Path(__file__).resolve().parents[4] / "system_under_test" / "gateway" / "data" / "faq.json"


def test_bundled_corpus_is_large_and_bilingual() -> None:
    """At least 120 passages, half Japanese and half English, every topic in both languages."""
    passages = load_corpus(BUNDLED_CORPUS)
    assert len(passages) >= 120
    langs = Counter(p.lang for p in passages)
    assert langs["ja"] == langs["en"]
    topics = Counter(p.id.rsplit("-", 1)[0] for p in passages)
    assert set(topics.values()) == {2}
    for passage in passages:
        sentences = passage.text.count("。") if passage.lang == "ja" else passage.text.count(". ") + 1
        assert 2 <= sentences <= 5, passage.id


def test_bundled_eval_questions_point_at_passages_in_their_language() -> None:
    """At least 40 questions in both languages, each naming an existing passage of its own language."""
    passages = {p.id: p for p in load_corpus(BUNDLED_CORPUS)}
    questions = [json.loads(line) for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert len(questions) >= 40
    for question in questions:
        passage = passages[question["passage_id"]]
        is_japanese = any("\u3040" <= char <= "\u9fff" for char in question["question"])
        assert passage.lang == ("ja" if is_japanese else "en"), question
        assert question["question"] not in passage.text
    assert {passages[q["passage_id"]].lang for q in questions} == {"ja", "en"}


def test_bundled_faq_is_bilingual() -> None:
    """At least 24 FAQ entries, each with unique id, several phrasings in both languages, two answers."""
    entries = json.loads(FAQ.read_text(encoding="utf-8"))
    assert len(entries) >= 24
    assert len({entry["id"] for entry in entries}) == len(entries)
    phrasings = [question for entry in entries for question in entry["questions"]]
    assert len(set(phrasings)) == len(phrasings), "a phrasing belongs to two entries"
    for entry in entries:
        assert set(entry) == {"id", "questions", "answer_ja", "answer_en"}, entry["id"]
        japanese = [q for q in entry["questions"] if any("\u3040" <= c <= "\u9fff" for c in q)]
        english = [q for q in entry["questions"] if q not in japanese]
        assert len(japanese) >= 2 and len(english) >= 2, entry["id"]
        assert entry["answer_ja"].strip() and entry["answer_en"].strip(), entry["id"]


def test_parse_passages_names_the_file_and_line_of_a_bad_passage() -> None:
    """An invalid line is reported with its source and line number and the field at fault."""
    good = json.dumps({"id": "a", "title": "t", "text": "x", "lang": "en"})
    bad = json.dumps({"id": "b", "title": "t", "text": "x", "lang": "fr"})
    with pytest.raises(CorpusError, match=r"c\.jsonl:3: field 'lang'"):
        parse_passages([good, "", bad], source="c.jsonl")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"id": "a", "title": "", "text": "x", "lang": "en"}', "field 'title'"),
        ('{"id": "a", "title": "t", "lang": "en"}', "field 'text'"),
    ],
)
def test_parse_passages_rejects_malformed_lines(line: str, message: str) -> None:
    """Malformed JSON, non-objects and missing or empty fields are refused with a precise message."""
    with pytest.raises(CorpusError, match=message):
        parse_passages([line])


def test_parse_passages_rejects_duplicate_ids() -> None:
    """Two passages with one id would make hits ambiguous, so the second is refused."""
    line = json.dumps({"id": "a", "title": "t", "text": "x", "lang": "en"})
    with pytest.raises(CorpusError, match="duplicate id 'a'"):
        parse_passages([line, line])


def test_load_corpus_rejects_an_empty_file(tmp_path: Path) -> None:
    """A corpus with no passages is an error, not an index that never answers."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no passages"):
        load_corpus(empty)
