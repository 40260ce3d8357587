"""The benchmark table as text: one row per figure, from ``bench.json``'s figures.

The terminal table and the HTML page (``reports/bench.py``) both start from the JSON document, so
what a user reads and what CI archives can never disagree. ``cells`` is the shared row formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HEADERS = ("figure", "value", "reference", "ratio", "goal", "met")
_MET = {True: "yes", False: "NO", None: "-"}


def number(value: Any, unit: str = "") -> str:
    """A number with three significant-ish digits and its unit; '-' for none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    magnitude = abs(value)
    text = f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else (
        f"{value:.2f}" if magnitude >= 0.1 else f"{value:.4f}" if magnitude else "0")
    return f"{text} {unit}".strip()


def ratio_text(ratio: Any) -> str:
    if not isinstance(ratio, int | float) or isinstance(ratio, bool):
        return "-"
    return f"{ratio * 100:.2f}%" if abs(ratio) < 0.1 else f"{ratio:.2f}x"


def cells(figure: Mapping[str, Any]) -> tuple[str, ...]:
    """The table cells of one figure, in ``HEADERS`` order."""
    goal = figure.get("goal") or {}
    if figure.get("na"):
        value = f"n/a: {figure['na']}"
        return (str(figure.get("name", "")), value, "", "", str(goal.get("text", "")), "-")
    reference = number(figure.get("reference"), str(figure.get("unit", "")))
    label = str(figure.get("reference_label") or "")
    if label:
        reference = f"{reference} ({label})" if reference != "-" else label
    return (
        str(figure.get("name", "")),
        number(figure.get("value"), str(figure.get("unit", ""))),
        reference,
        ratio_text(figure.get("ratio")),
        str(goal.get("text", "")),
        _MET.get(figure.get("met"), "-"),
    )


def render_table(figures: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table, figures grouped under their section heading, columns padded."""
    rows: list[tuple[str, ...] | str] = []
    group = None
    for figure in figures:
        if figure.get("group") != group:
            group = figure.get("group")
            rows.append(f"== {group} ==")
        rows.append(cells(figure))
    widths = [len(h) for h in HEADERS]
    for row in rows:
        if isinstance(row, tuple):
            widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    out = [line(HEADERS), line(["-" * w for w in widths])]
    out += [row if isinstance(row, str) else line(row) for row in rows]
    return "\n".join(out)
