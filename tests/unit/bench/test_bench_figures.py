"""Figures, goals and the bench.json document: the arithmetic every row of the table relies on."""

from __future__ import annotations

import math

from bench.figures import Figure, Goal, Op, bench_document, missing_numbers, not_applicable


def test_ratio_is_value_over_reference() -> None:
    """A figure's ratio divides its value by its reference."""
    assert Figure("k", "g", "n", 3.0, "s", reference=12.0).ratio == 0.25


def test_ratio_is_none_without_a_usable_reference() -> None:
    """No reference, a zero reference, or a NaN value gives no ratio rather than a division error."""
    assert Figure("k", "g", "n", 3.0, "s").ratio is None
    assert Figure("k", "g", "n", 3.0, "s", reference=0.0).ratio is None
    assert Figure("k", "g", "n", math.nan, "s", reference=1.0).ratio is None


def test_goal_on_ratio_below() -> None:
    """A 'below' goal on the ratio is met strictly under the limit."""
    goal = Goal(Op.BELOW, 0.01)
    assert Figure("k", "g", "n", 29.0, "ms", 3000.0, goal=goal).met is True
    assert Figure("k", "g", "n", 30.0, "ms", 3000.0, goal=goal).met is False


def test_goal_on_value_at_most_and_at_least() -> None:
    """Goals can judge the value itself, inclusive at the limit for 'at most' and 'at least'."""
    assert Goal(Op.AT_MOST, 1.0, on_ratio=False).met(1.0, None) is True
    assert Goal(Op.AT_MOST, 1.0, on_ratio=False).met(1.01, None) is False
    assert Goal(Op.AT_LEAST, 3.0).met(None, 3.0) is True
    assert Goal(Op.AT_LEAST, 3.0).met(None, 2.99) is False


def test_goal_without_a_number_is_undecided() -> None:
    """A figure with no number neither meets nor misses its goal."""
    assert not_applicable("k", "g", "n", "s", "reason", Goal(Op.BELOW, 1.0)).met is None


def test_goal_describe_prefers_its_text() -> None:
    """The goal's own wording is what the table shows; without it, the comparison is spelled out."""
    assert Goal(Op.BELOW, 0.01, text="under 1%").describe() == "under 1%"
    assert Goal(Op.AT_LEAST, 3.0).describe() == "ratio >= 3"


def test_document_shape() -> None:
    """bench.json holds the schema, the meta and one object per figure with value, ratio, goal and verdict."""
    figure = Figure("hop.p50", "toxiproxy hop", "p50", 0.3, "ms", 0.2, "direct", Goal(Op.AT_MOST, 2.0))
    document = bench_document([figure], {"profile": "quick"})
    assert document["schema"] == 1
    assert document["meta"] == {"profile": "quick"}
    (row,) = document["figures"]
    assert row["key"] == "hop.p50" and row["value"] == 0.3 and row["reference"] == 0.2
    assert row["ratio"] == 1.5 and row["met"] is True
    assert row["goal"] == {"op": "<=", "limit": 2.0, "on_ratio": True, "text": "ratio <= 2"}


def test_document_turns_non_numbers_into_null() -> None:
    """NaN and infinity become JSON null, so bench.json stays valid JSON."""
    row = bench_document([Figure("k", "g", "n", math.inf, "s", math.nan)], {})["figures"][0]
    assert row["value"] is None and row["reference"] is None


def test_missing_numbers_lists_figures_without_value_or_reason() -> None:
    """A figure with neither a number nor an n/a reason is reported as missing; n/a ones are not."""
    document = bench_document([Figure("a", "g", "n", None, "s"), not_applicable("b", "g", "n", "s", "why"),
                               Figure("c", "g", "n", 1.0, "s")], {})
    assert missing_numbers(document) == ["a"]
