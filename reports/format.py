"""What every HTML page of the reports shares: the inline stylesheet and how figures are written.

The run report (``html.py``) and the comparison page (``compare_page.py``) put the same figure side by
side with the same units and precision, so a reader comparing the two pages compares like with like.
Every function returns HTML-safe text; missing values (``None``) print as an en dash.
"""

from __future__ import annotations

from html import escape
from typing import Any

from scenarios.outcome import Outcome

# Keyed by the enum, looked up with results.json's strings (a StrEnum member hashes as its value).
OUTCOME_COLOURS: dict[str, str] = {Outcome.PASSED: "#1a7f37", Outcome.FAILED: "#cf222e",
                                   Outcome.ERROR: "#9a6700", Outcome.INTERRUPTED: "#6e7781"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
     padding:0 1em;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.verdict{font-size:2.4em;font-weight:700;padding:.2em .6em;border-radius:8px;color:#fff;display:inline-block}
.counts span{margin-right:1.5em;font-size:1.1em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em} th,td{border:1px solid #d0d7de;padding:.25em .5em;
     text-align:left;vertical-align:top} th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.outcome{font-weight:700} .passed{color:#1a7f37} .failed{color:#cf222e} .error{color:#9a6700}
.skipped,.interrupted,.running{color:#6e7781}
td.regressed{background:#ffebe9;color:#cf222e;font-weight:700} td.pair{white-space:nowrap}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.25em;vertical-align:middle}
img.figure{max-width:100%;height:auto;border:1px solid #d0d7de}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em;border-radius:4px;font-size:.85em}
code{background:#f6f8fa;padding:0 .2em;border-radius:3px;word-break:break-all}
.muted{color:#6e7781}
"""


def outcome_span(outcome: Any) -> str:
    text = str(outcome or "unknown")
    return f'<span class="outcome {escape(text, quote=True)}">{escape(text)}</span>'


def outcome_cell(outcome: Any) -> str:
    return f"<td>{outcome_span(outcome)}</td>"


def num(text: str, css_class: str = "") -> str:
    """A right-aligned table cell for already formatted (HTML-safe) text."""
    return f'<td class="num{" " + css_class if css_class else ""}">{text}</td>'


def seconds(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def millis(value: Any) -> str:
    return "–" if value is None else f"{1000.0 * float(value):.0f} ms"


def percent(value: Any) -> str:
    """A share in [0, 1] as a percentage."""
    return "–" if value is None else f"{100.0 * float(value):.1f}%"
