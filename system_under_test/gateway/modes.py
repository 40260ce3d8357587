"""The four operating modes, how a request picks one, and what the user is told in each.

    vector-db | LLM  | mode
    ----------+------+---------------------
    up        | up   | normal               RAG answer with sources
    down      | up   | degraded-no-context  LLM answer without retrieved context
    up        | down | degraded-cache-only  most similar cached answer, else "busy, try later"
    down      | down | static-only          bundled FAQ answer, else the maintenance message
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Language = Literal["ja", "en"]


class Mode(StrEnum):
    NORMAL = "normal"
    DEGRADED_NO_CONTEXT = "degraded-no-context"
    DEGRADED_CACHE_ONLY = "degraded-cache-only"
    STATIC_ONLY = "static-only"


def decide_mode(vectordb_up: bool, llm_up: bool) -> Mode:
    """The mode for a request (or the system) given which dependencies answered."""
    if vectordb_up and llm_up:
        return Mode.NORMAL
    if llm_up:
        return Mode.DEGRADED_NO_CONTEXT
    if vectordb_up:
        return Mode.DEGRADED_CACHE_ONLY
    return Mode.STATIC_ONLY


_NOTICES: dict[Mode, dict[Language, str]] = {
    Mode.DEGRADED_NO_CONTEXT: {
        "ja": "現在、検索機能が一時的に利用できません。資料を参照しない一般的な回答です。",
        "en": "Search is temporarily unavailable. This is a general answer without our documents.",
    },
    Mode.DEGRADED_CACHE_ONLY: {
        "ja": "現在、回答生成機能が一時的に利用できません。以前の回答を表示しています。",
        "en": "Answer generation is temporarily unavailable. Showing a previously given answer.",
    },
    Mode.STATIC_ONLY: {
        "ja": "現在、システムはメンテナンスモードです。よくある質問からお答えします。",
        "en": "The system is in maintenance mode. Answering from our frequently asked questions.",
    },
}

BUSY_MESSAGE: dict[Language, str] = {
    "ja": "ただいま混み合っております。しばらくしてから再度お試しください。",
    "en": "We are busy right now. Please try again in a little while.",
}

MAINTENANCE_MESSAGE: dict[Language, str] = {
    "ja": "ただいまメンテナンス中です。ご不便をおかけして申し訳ありません。しばらくしてから再度お試しください。",
    "en": "We are under maintenance. Sorry for the inconvenience; please try again later.",
}


# After a streamed answer broke mid-way: the user has part of an answer and must know it is not all.
INTERRUPTED_NOTICE: dict[Language, str] = {
    "ja": "回答の生成が途中で中断されました。内容が不完全な可能性があります。しばらくしてから再度お試しください。",
    "en": "The answer was interrupted and may be incomplete. Please try again in a little while.",
}


def notice_for(mode: Mode, language: Language) -> str | None:
    """The notice a user sees in ``mode`` (None in normal mode)."""
    texts = _NOTICES.get(mode)
    return texts[language] if texts else None


def language_from_header(accept_language: str | None) -> Language:
    """English when the client's first preference is English, else the default Japanese."""
    if accept_language and accept_language.strip().lower().startswith("en"):
        return "en"
    return "ja"


def language_of_text(text: str) -> Language:
    """Japanese when the text has kana or kanji, else English."""
    for ch in text:
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF:
            return "ja"
    return "en"
