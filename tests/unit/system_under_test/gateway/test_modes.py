"""The mode decision table and the texts users see in each mode."""

from __future__ import annotations

import pytest

from system_under_test.gateway.modes import (
    Mode,
    decide_mode,
    language_from_header,
    language_of_text,
    notice_for,
)


@pytest.mark.parametrize(
    ("vectordb_up", "llm_up", "expected"),
    [
        (True, True, Mode.NORMAL),
        (False, True, Mode.DEGRADED_NO_CONTEXT),
        (True, False, Mode.DEGRADED_CACHE_ONLY),
        (False, False, Mode.STATIC_ONLY),
    ],
)
def test_decide_mode_follows_the_design_table(vectordb_up: bool, llm_up: bool, expected: Mode) -> None:
    """Each combination of dependency availability maps to the design's mode."""
    assert decide_mode(vectordb_up, llm_up) is expected


def test_notice_is_absent_in_normal_mode_and_present_otherwise() -> None:
    """Every degraded mode carries a notice in both languages; normal carries none."""
    assert notice_for(Mode.NORMAL, "ja") is None
    for mode in (Mode.DEGRADED_NO_CONTEXT, Mode.DEGRADED_CACHE_ONLY, Mode.STATIC_ONLY):
        ja, en = notice_for(mode, "ja"), notice_for(mode, "en")
        assert ja and en and ja != en
        assert language_of_text(ja) == "ja" and language_of_text(en) == "en"


def test_language_from_header_defaults_to_japanese() -> None:
    """English only when the first preference is English."""
    assert language_from_header(None) == "ja"
    assert language_from_header("ja,en;q=0.5") == "ja"
    assert language_from_header("en-US,en;q=0.9") == "en"
