"""The searchable corpus: one JSON object per line, loaded and checked once at start-up.

A malformed corpus must stop the service before it reports ready, with the file and line in the
message, rather than serve half an index; hence the strict checks below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

Lang = Literal["ja", "en"]
_LANGS: frozenset[str] = frozenset({"ja", "en"})
_FIELDS = ("id", "title", "text", "lang")


class CorpusError(ValueError):
    """The corpus file is missing or a line is not a valid passage."""


@dataclass(frozen=True)
class Passage:
    """One retrievable unit: a short, self-contained answer to one support topic in one language."""

    id: str
    title: str
    text: str
    lang: Lang

    @property
    def searchable_text(self) -> str:
        """What gets embedded: the title carries the topic's key words, so it is searched too."""
        return f"{self.title}\n{self.text}"


def parse_passages(lines: Iterable[str], *, source: str = "<corpus>") -> list[Passage]:
    """Passages from JSON lines; blank lines are skipped, anything else invalid raises ``CorpusError``."""
    passages: list[Passage] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise CorpusError(f"{where}: expected a JSON object")
        for name in _FIELDS:
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                raise CorpusError(f"{where}: field {name!r} must be a non-empty string")
        if raw["lang"] not in _LANGS:
            raise CorpusError(f"{where}: field 'lang' must be one of {sorted(_LANGS)}, got {raw['lang']!r}")
        if raw["id"] in seen:
            raise CorpusError(f"{where}: duplicate id {raw['id']!r}")
        seen.add(raw["id"])
        passages.append(Passage(raw["id"], raw["title"], raw["text"], cast(Lang, raw["lang"])))
    return passages


def load_corpus(path: Path) -> Sequence[Passage]:
    """The passages in ``path``; an empty corpus is an error, since search would answer nothing."""
    try:
        with path.open(encoding="utf-8") as handle:
            passages = parse_passages(handle, source=str(path))
    except OSError as exc:
        raise CorpusError(f"cannot read corpus {path}: {exc.strerror or exc}") from None
    if not passages:
        raise CorpusError(f"{path}: the corpus holds no passages")
    return passages
