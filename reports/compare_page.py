"""A comparison of two runs, as a terminal table and as a self-contained HTML page.

Both show the same thing: per scenario, each compared figure as ``BASE → NEW`` with a mark on the
figures that regressed, then every regression in words and the limits that judged them. The table goes
to stdout for CI logs; the page goes next to the run for people. The page follows ``html.py``'s rules:
inline CSS, no scripts, every text from results.json escaped, links only relative.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from scenarios.outcome import Outcome

from .compare import AVAILABILITY, FIGURES, P95, Comparison, FigureChange, ScenarioComparison
from .format import CSS, OUTCOME_COLOURS, millis, num, outcome_span, percent, seconds

_NAME_WIDTH = 44


def render_table(comparison: Comparison) -> str:
    """Plain text, one line per scenario, then the regressions and the verdict."""
    head = f"{'scenario':<{_NAME_WIDTH}} {'outcome':<22}" + "".join(f" {FIGURES[f]:>20}" for f in FIGURES)
    lines = [head]
    for s in comparison.scenarios:
        name = s.name if len(s.name) <= _NAME_WIDTH else s.name[: _NAME_WIDTH - 1] + "…"
        cells = "".join(f" {_text_cell(s.figure(f)):>20}" for f in FIGURES)
        lines.append(f"{name:<{_NAME_WIDTH}} {_outcomes(s):<22}{cells}")
    limits = ", ".join(f"{FIGURES[f]} {text}" for f, text in comparison.thresholds.describe().items())
    lines.append(f"limits: {limits}")
    regressions = comparison.regressions()
    lines += [f"REGRESSION {line}" for line in regressions]
    lines.append(f"{len(regressions)} regression(s)" if regressions else "no regression")
    return "\n".join(lines)


def render_compare_page(comparison: Comparison, base: Mapping[str, Any], new: Mapping[str, Any], *,
                        base_label: str, new_label: str, base_href: str | None = None,
                        new_href: str | None = None) -> str:
    """The HTML page. ``base``/``new`` are the two results dicts (for their run metadata); the hrefs,
    relative to where the page is saved, link each run's own report."""
    regressed = comparison.regressed
    verdict = "REGRESSED" if regressed else "NO REGRESSION"
    colour = OUTCOME_COLOURS[Outcome.FAILED if regressed else Outcome.PASSED]
    rows = "\n".join(_row(s) for s in comparison.scenarios)
    figure_heads = "".join(f"<th>{escape(FIGURES[f])}<br><span class=\"muted\">{escape(limit)}</span></th>"
                           for f, limit in comparison.thresholds.describe().items())
    problems = "".join(f"<li>{escape(line)}</li>" for line in comparison.regressions())
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>Run comparison: {escape(verdict.lower())}</title><style>{CSS}</style></head><body>",
        "<h1>Run comparison</h1>",
        f'<p><span class="verdict" id="verdict" style="background:{colour}">{verdict}</span></p>',
        _runs(base, new, base_label, new_label, base_href, new_href),
        "<h2>Scenarios</h2><p class=\"muted\">Each figure as BASE → NEW; under each heading, the change that "
        "counts as a regression.</p>",
        f"<table><thead><tr><th>scenario</th><th>outcome</th>{figure_heads}</tr></thead><tbody>{rows}</tbody>"
        "</table>",
        f'<h2>Regressions</h2><ul id="regressions">{problems}</ul>' if problems else
        '<h2>Regressions</h2><p id="regressions">none</p>',
        "</body></html>",
    ])


def _runs(base: Mapping[str, Any], new: Mapping[str, Any], base_label: str, new_label: str,
          base_href: str | None, new_href: str | None) -> str:
    def meta(results: Mapping[str, Any], key: str) -> Any:
        run = results.get("run") or {}
        return results.get(key) if key == "outcome" else run.get(key)

    def link(label: str, href: str | None) -> str:
        return f'<a href="{escape(href, quote=True)}">{escape(label)}</a>' if href else escape(label)

    rows = "".join(
        f"<tr><th>{escape(title)}</th><td>{escape(_dash(meta(base, key)))}</td>"
        f"<td>{escape(_dash(meta(new, key)))}</td></tr>"
        for title, key in (("outcome", "outcome"), ("started", "started"), ("git commit", "git_commit"),
                           ("seed", "seed"), ("backend", "backend"), ("replay", "replay"))
    )
    return (f"<table><thead><tr><th></th><th>BASE {link(base_label, base_href)}</th>"
            f"<th>NEW {link(new_label, new_href)}</th></tr></thead><tbody>{rows}</tbody></table>")


def _row(s: ScenarioComparison) -> str:
    cells = "".join(_html_cell(s.figure(f), f) for f in FIGURES)
    if s.new_outcome is None or s.base_outcome is None:
        cells = f'<td colspan="{len(FIGURES)}" class="muted">only in {"BASE" if s.new_outcome is None else "NEW"}</td>'
    attempts = f' <span class="muted">×{s.attempts[0]}/×{s.attempts[1]}</span>' if max(s.attempts) > 1 else ""
    outcome_class = ' class="regressed"' if s.regressed else ""
    return (f"<tr><td{outcome_class}>{escape(s.name)}{attempts}<br><span class=\"muted\">{escape(s.path)}</span></td>"
            f"<td>{_outcome_html(s.base_outcome)} → {_outcome_html(s.new_outcome)}</td>{cells}</tr>")


def _html_cell(change: FigureChange | None, figure: str) -> str:
    if change is None:
        return num("–")
    text = f"{_format(figure, change.base)} → {_format(figure, change.new)}"
    return num(escape(text), "pair regressed" if change.regressed else "pair")


def _text_cell(change: FigureChange | None) -> str:
    if change is None:
        return "–"
    return f"{'! ' if change.regressed else ''}{_format(change.figure, change.base)}→{_format(change.figure, change.new)}"


def _format(figure: str, value: float | None) -> str:
    if figure == AVAILABILITY:
        return percent(value)
    return (millis if figure == P95 else seconds)(value).replace(" ", "")


def _outcomes(s: ScenarioComparison) -> str:
    return f"{s.base_outcome or 'absent'}→{s.new_outcome or 'MISSING'}"


def _outcome_html(outcome: str | None) -> str:
    return outcome_span(outcome) if outcome else '<span class="muted">absent</span>'


def _dash(value: Any) -> str:
    return "–" if value is None else str(value)
