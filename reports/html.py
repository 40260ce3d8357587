"""The run's report as one self-contained HTML page.

Everything the page needs is inside it: inline CSS, figures as ``data:image/png;base64`` URIs, no scripts,
no fonts, no external URL, so it renders the same from a CI artifact, a mail attachment or an air-gapped
machine. The only links are relative ones to the run's own logs, next to ``index.html``. Every piece of
text from ``results.json`` goes through ``html.escape``: scenario names and messages come from feature files
and exceptions, and are not trusted to be markup-free.

jinja2 is not a declared dependency, so the page is built from small string-returning functions.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .figures import mode_colour, scenario_figure

_OUTCOME_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a6700", "interrupted": "#6e7781"}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
     padding:0 1em;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.verdict{font-size:2.4em;font-weight:700;padding:.2em .6em;border-radius:8px;color:#fff;display:inline-block}
.counts span{margin-right:1.5em;font-size:1.1em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em} th,td{border:1px solid #d0d7de;padding:.25em .5em;
     text-align:left;vertical-align:top} th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.outcome{font-weight:700} .passed{color:#1a7f37} .failed{color:#cf222e} .error{color:#9a6700}
.skipped,.interrupted,.running{color:#6e7781}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.25em;vertical-align:middle}
img.figure{max-width:100%;height:auto;border:1px solid #d0d7de}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em;border-radius:4px;font-size:.85em}
.muted{color:#6e7781}
"""


def render_report(results: Mapping[str, Any], *, run_dir: Path | None = None) -> str:
    """The HTML page for a run's results (the dict in ``results.json``).

    With ``run_dir``, the page links the run's logs that exist there (``journal.jsonl``,
    ``records/NN/*``); links are relative, so the page must be saved in ``run_dir``.
    """
    scenarios: list[Mapping[str, Any]] = list(results.get("scenarios") or [])
    run: Mapping[str, Any] = results.get("run") or {}
    title = f"Resilience report: {results.get('outcome', 'unknown')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        _summary(results, scenarios),
        *(_scenario(i, s, run_dir) for i, s in enumerate(scenarios, start=1)),
        _metadata(run, results, run_dir),
        "</body></html>",
    ]
    return "\n".join(parts)


# -- summary ---------------------------------------------------------------------------------------


def _summary(results: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    outcome = str(results.get("outcome", "unknown"))
    counts: dict[str, int] = {"passed": 0, "failed": 0, "error": 0}
    for s in scenarios:
        key = str(s.get("outcome", "unknown"))
        counts[key] = counts.get(key, 0) + 1
    colour = _OUTCOME_COLOURS.get(outcome, "#6e7781")
    rows = "\n".join(_summary_row(i, s) for i, s in enumerate(scenarios, start=1))
    return (
        "<h1>Resilience report</h1>"
        f'<p><span class="verdict" id="verdict" style="background:{colour}">{escape(outcome.upper())}</span></p>'
        '<p class="counts">' + "".join(f"<span><b>{n}</b> {escape(k)}</span>" for k, n in counts.items()) + "</p>"
        "<table><thead><tr><th>#</th><th>scenario</th><th>outcome</th><th>duration</th><th>time to degrade</th>"
        "<th>time to recover</th><th>availability</th><th>p50</th><th>p95</th><th>p99</th><th>requests</th>"
        f"<th>errors</th><th>time in each mode</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _summary_row(index: int, scenario: Mapping[str, Any]) -> str:
    summary: Mapping[str, Any] = scenario.get("summary") or {}
    cells = [
        f'<td class="num">{index}</td>',
        f'<td><a href="#scenario-{index}">{escape(str(scenario.get("name", "")))}</a></td>',
        _outcome_cell(scenario.get("outcome")),
        _num(_seconds(scenario.get("duration_s"))),
        _num(_seconds(summary.get("time_to_degrade_s"))),
        _num(_seconds(summary.get("time_to_recover_s"))),
        _num(_percent(summary.get("availability"))),
        _num(_millis(summary.get("p50_s"))),
        _num(_millis(summary.get("p95_s"))),
        _num(_millis(summary.get("p99_s"))),
        _num(escape(str(summary.get("requests", "–")))),
        f"<td>{_errors(summary.get('errors') or {})}</td>",
        f"<td>{_mode_shares(summary.get('mode_shares') or {})}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _errors(errors: Mapping[str, Any]) -> str:
    if not errors:
        return '<span class="muted">none</span>'
    return "<br>".join(f"{escape(str(kind))}: {escape(str(n))}" for kind, n in sorted(errors.items()))


def _mode_shares(shares: Mapping[str, Any]) -> str:
    ordered = sorted(shares.items(), key=lambda kv: -float(kv[1] or 0.0))
    return "<br>".join(
        f'<span class="swatch" style="background:{mode_colour(str(mode))}"></span>{escape(str(mode))} '
        f"{_percent(share)}" for mode, share in ordered
    ) or '<span class="muted">–</span>'


# -- one scenario ----------------------------------------------------------------------------------


def _scenario(index: int, scenario: Mapping[str, Any], run_dir: Path | None) -> str:
    name = str(scenario.get("name", ""))
    png = base64.b64encode(scenario_figure(scenario)).decode("ascii")
    where = f"{scenario.get('feature', '')} — {scenario.get('path', '')}:{scenario.get('line', '')}"
    tags = " ".join(f"@{t}" for t in scenario.get("tags") or [])
    message = scenario.get("message")
    parts = [
        f'<section id="scenario-{index}"><h2>{index}. {escape(name)} {_outcome_span(scenario.get("outcome"))}</h2>',
        f'<p class="muted">{escape(where)} {escape(tags)} · started {escape(str(scenario.get("started", "")))}</p>',
        f"<pre>{escape(str(message))}</pre>" if message else "",
        f'<img class="figure" alt="{escape(name, quote=True)}: load, latency, errors, breakers and mode over time" '
        f'src="data:image/png;base64,{png}">',
        _steps(scenario.get("steps") or []),
        _verdicts(scenario.get("verdicts") or []),
        _faults(scenario.get("faults") or []),
        _links(_scenario_logs(run_dir, index)),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _steps(steps: Iterable[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td class=\"num\">{escape(str(s.get('line', '')))}</td>"
        f"<td><b>{escape(str(s.get('keyword', '')))}</b> {escape(str(s.get('text', '')))}"
        + (f"<pre>{escape(str(s['message']))}</pre>" if s.get("message") else "")
        + f"</td>{_outcome_cell(s.get('status'))}{_num(_seconds(s.get('t')))}{_num(_seconds(s.get('duration_s')))}</tr>"
        for s in steps
    )
    return ("<h3>Steps</h3><table><thead><tr><th>line</th><th>step</th><th>status</th><th>at</th><th>duration</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>") if rows else ""


def _verdicts(verdicts: Iterable[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr>{_outcome_cell('passed' if v.get('passed') else 'failed')}<td>{escape(str(v.get('name', '')))}</td>"
        f"<td>{escape(str(v.get('expected', '')))}</td><td>{escape(str(v.get('observed', '')))}</td>"
        f"{_num(_seconds(v.get('at')))}</tr>"
        for v in verdicts
    )
    return ("<h3>Verdicts</h3><table><thead><tr><th>verdict</th><th>assertion</th><th>expected</th><th>observed</th>"
            f"<th>at</th></tr></thead><tbody>{rows}</tbody></table>") if rows else ""


def _faults(faults: Iterable[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(f.get('label', '')))}</td><td>{escape(str(f.get('kind', '')))}</td>"
        f"<td>{escape(str(f.get('target', '')))}</td>{_num(_seconds(f.get('start')))}"
        f"{_num(_seconds(f.get('end')) if f.get('end') is not None else 'until the end')}</tr>"
        for f in faults
    )
    return ("<h3>Faults</h3><table><thead><tr><th>fault</th><th>kind</th><th>target</th><th>from</th><th>to</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>") if rows else ""


# -- run metadata and logs -------------------------------------------------------------------------


def _metadata(run: Mapping[str, Any], results: Mapping[str, Any], run_dir: Path | None) -> str:
    rows = [("schema version", results.get("schema_version")), ("started", run.get("started")),
            ("seed", run.get("seed")), ("backend", run.get("backend")), ("topology", run.get("topology")),
            ("git commit", run.get("git_commit"))]
    rows += [(f"version: {k}", v) for k, v in sorted((run.get("versions") or {}).items())]
    rows += [(f"machine: {k}", v) for k, v in sorted((run.get("machine") or {}).items())]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape('–' if v is None else str(v))}</td></tr>" for k, v in rows)
    logs = [run_dir / "journal.jsonl", run_dir / "junit.xml"] if run_dir is not None else []
    return (f"<h2>Run</h2><table><tbody>{body}</tbody></table>"
            + _links([(p.name, p.name) for p in logs if p.is_file()]))


def _scenario_logs(run_dir: Path | None, index: int) -> list[tuple[str, str]]:
    """``records/NN/*`` for the scenario's 1-based position in the run, as (relative href, label)."""
    if run_dir is None:
        return []
    folder = run_dir / "records" / f"{index:02d}"
    if not folder.is_dir():
        return []
    return [(f"records/{index:02d}/{p.name}", p.name) for p in sorted(folder.iterdir()) if p.is_file()]


def _links(links: Sequence[tuple[str, str]]) -> str:
    if not links:
        return ""
    items = " · ".join(f'<a href="{escape(href, quote=True)}">{escape(label)}</a>' for href, label in links)
    return f"<p>Logs: {items}</p>"


# -- formatting ------------------------------------------------------------------------------------


def _outcome_span(outcome: Any) -> str:
    text = str(outcome or "unknown")
    return f'<span class="outcome {escape(text, quote=True)}">{escape(text)}</span>'


def _outcome_cell(outcome: Any) -> str:
    return f"<td>{_outcome_span(outcome)}</td>"


def _num(text: str) -> str:
    return f'<td class="num">{text}</td>'


def _seconds(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def _millis(value: Any) -> str:
    return "–" if value is None else f"{1000.0 * float(value):.0f} ms"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{100.0 * float(value):.1f}%"
