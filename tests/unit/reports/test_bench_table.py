"""The text table: number formatting, ratio wording, n/a rows and section headings."""

from __future__ import annotations

from bench.figures import Figure, Goal, Op, bench_document, not_applicable
from reports.bench_table import cells, number, ratio_text, render_table


def test_number_keeps_about_three_digits() -> None:
    """Large numbers lose decimals, small ones keep them, the unit follows."""
    assert number(1234.4, "req/s") == "1234 req/s"
    assert number(12.345, "ms") == "12.3 ms"
    assert number(0.2345, "s") == "0.23 s"
    assert number(0.0123, "s") == "0.0123 s"
    assert number(None) == "-"


def test_small_ratios_read_as_percentages() -> None:
    """A ratio under 0.1 is shown as a percentage (fast fail), larger ones as a multiple."""
    assert ratio_text(0.0042) == "0.42%"
    assert ratio_text(3.5) == "3.50x"
    assert ratio_text(None) == "-"


def test_cells_of_a_measured_figure() -> None:
    """A measured row shows value, reference with its label, ratio, goal and whether it was met."""
    row = bench_document([Figure("k", "g", "p99 open", 12.0, "ms", 3000.0, "timeout",
                                 Goal(Op.BELOW, 0.01, text="under 1%"))], {})["figures"][0]
    assert cells(row) == ("p99 open", "12.0 ms", "3000 ms (timeout)", "0.40%", "under 1%", "yes")


def test_cells_of_a_missed_goal_say_no() -> None:
    """A missed goal is shouted, so it cannot be overlooked in a long table."""
    row = bench_document([Figure("k", "g", "n", 2.0, "x", 1.0, goal=Goal(Op.AT_MOST, 1.0))], {})["figures"][0]
    assert cells(row)[-1] == "NO"


def test_cells_of_a_not_applicable_figure_give_the_reason() -> None:
    """An n/a figure shows its reason where the value would be."""
    row = bench_document([not_applicable("k", "g", "n", "s", "not the reference system")], {})["figures"][0]
    assert cells(row)[1] == "n/a: not the reference system"


def test_table_groups_rows_under_their_section() -> None:
    """Each section heading appears once, before its rows, in the order of the figures."""
    figures = bench_document([Figure("a", "hop", "one", 1.0, "ms"), Figure("b", "hop", "two", 2.0, "ms"),
                              Figure("c", "capacity", "three", 3.0, "req/s")], {})["figures"]
    lines = render_table(figures).splitlines()
    assert lines[0].split() == ["figure", "value", "reference", "ratio", "goal", "met"]
    headings = [line for line in lines if line.startswith("==")]
    assert headings == ["== hop ==", "== capacity =="]
    assert lines.index("== capacity ==") > max(i for i, line in enumerate(lines) if line.startswith("two"))
