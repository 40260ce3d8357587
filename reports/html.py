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

from scenarios.outcome import COUNTED, Outcome

from .figures import mode_colour, scenario_figure
from .format import CSS, OUTCOME_COLOURS, millis, num, outcome_cell, outcome_span, percent, seconds


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
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        _summary(results, scenarios),
        _pass_rates(results.get("pass_rates") or []),
        *(_scenario(i, s, run_dir) for i, s in enumerate(scenarios, start=1)),
        _metadata(run, results, run_dir),
        "</body></html>",
    ]
    return "\n".join(parts)


# -- summary ---------------------------------------------------------------------------------------


def _summary(results: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    outcome = str(results.get("outcome", "unknown"))
    counts: dict[str, int] = {str(k): 0 for k in COUNTED}
    for s in scenarios:
        key = str(s.get("outcome", "unknown"))
        counts[key] = counts.get(key, 0) + 1
    colour = OUTCOME_COLOURS.get(outcome, "#6e7781")
    streamed = _streamed(scenarios)
    monitored = _monitored(scenarios)
    rows = "\n".join(_summary_row(i, s, streamed, monitored) for i, s in enumerate(scenarios, start=1))
    return (
        "<h1>Resilience report</h1>"
        f'<p><span class="verdict" id="verdict" style="background:{colour}">{escape(outcome.upper())}</span></p>'
        '<p class="counts">' + "".join(f"<span><b>{n}</b> {escape(k)}</span>" for k, n in counts.items()) + "</p>"
        "<table><thead><tr><th>#</th><th>scenario</th><th>outcome</th><th>duration</th><th>time to degrade</th>"
        "<th>time to recover</th>"
        + ('<th title="from the fault to the first alert firing">time to alert</th>'
           '<th title="from the heal to the last of those alerts resolved">time to resolve</th>' if monitored else "")
        + "<th>availability</th><th>p50</th><th>p95</th><th>p99</th>"
        + ('<th title="time to first token of streamed answers">TTFT p95</th>' if streamed else "") + "<th>requests</th>"
        f"<th>errors</th><th>time in each mode</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _streamed(scenarios: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any scenario sent streamed requests: only then does the table get a TTFT column."""
    return any("streams" in (s.get("summary") or {}) for s in scenarios)


def _ttft_cell(summary: Mapping[str, Any]) -> str:
    """TTFT p95 of a scenario's streams; a scenario without streams shows an en dash."""
    return num(millis(summary.get("ttft_p95_s")))


def _monitored(scenarios: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the run had monitoring (a Prometheus): only then does the table get alert columns."""
    return any("time_to_alert_s" in (s.get("summary") or {}) for s in scenarios)


def _summary_row(index: int, scenario: Mapping[str, Any], streamed: bool = False, monitored: bool = False) -> str:
    summary: Mapping[str, Any] = scenario.get("summary") or {}
    cells = [
        f'<td class="num">{index}</td>',
        f'<td><a href="#scenario-{index}">{escape(str(scenario.get("name", "")))}</a></td>',
        outcome_cell(scenario.get("outcome")),
        num(seconds(scenario.get("duration_s"))),
        num(seconds(summary.get("time_to_degrade_s"))),
        num(seconds(summary.get("time_to_recover_s"))),
        *([num(seconds(summary.get("time_to_alert_s"))), num(seconds(summary.get("time_to_resolve_s")))]
          if monitored else []),
        num(percent(summary.get("availability"))),
        num(millis(summary.get("p50_s"))),
        num(millis(summary.get("p95_s"))),
        num(millis(summary.get("p99_s"))),
        *([_ttft_cell(summary)] if streamed else []),
        num(escape(str(summary.get("requests", "–")))),
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
        f"{percent(share)}" for mode, share in ordered
    ) or '<span class="muted">–</span>'


def _pass_rates(rates: Iterable[Mapping[str, Any]]) -> str:
    """A repeated run's pass rate per scenario, with its confidence interval.

    One verdict of a repeated scenario says little about a flaky one; the interval says how sure the
    rate is, so it is printed next to the rate rather than left to a tooltip.
    """
    rows = "".join(
        f"<tr><td>{escape(str(r.get('name', '')))}"
        f"<br><span class=\"muted\">{escape(str(r.get('path', '')))}:{escape(str(r.get('line', '')))}</span></td>"
        + "".join(num(escape(str(r.get(k, "–")))) for k in ("runs", *COUNTED))
        + num(percent(r.get("rate")))
        + num(f"{percent(r.get('ci_low'))} – {percent(r.get('ci_high'))}")
        + "</tr>"
        for r in rates
    )
    return ("<h2>Pass rates</h2><table><thead><tr><th>scenario</th><th>runs</th><th>passed</th><th>failed</th>"
            "<th>error</th><th>pass rate</th><th>confidence interval</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>") if rows else ""


# -- one scenario ----------------------------------------------------------------------------------


def _scenario(index: int, scenario: Mapping[str, Any], run_dir: Path | None) -> str:
    name = str(scenario.get("name", ""))
    png = base64.b64encode(scenario_figure(scenario)).decode("ascii")
    where = f"{scenario.get('feature', '')} — {scenario.get('path', '')}:{scenario.get('line', '')}"
    tags = " ".join(f"@{t}" for t in scenario.get("tags") or [])
    # Repeated runs hold the same scenario several times: the attempt and its seed tell them apart.
    repeat = "".join(f" · {key} {escape(str(scenario[key]))}" for key in ("attempt", "seed")
                     if scenario.get(key) is not None)
    message = scenario.get("message")
    parts = [
        f'<section id="scenario-{index}"><h2>{index}. {escape(name)} {outcome_span(scenario.get("outcome"))}</h2>',
        f'<p class="muted">{escape(where)} {escape(tags)} · started {escape(str(scenario.get("started", "")))}'
        f"{repeat}</p>",
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
        + f"</td>{outcome_cell(s.get('status'))}{num(seconds(s.get('t')))}{num(seconds(s.get('duration_s')))}</tr>"
        for s in steps
    )
    return _section_table("Steps", ("line", "step", "status", "at", "duration"), rows)


def _verdicts(verdicts: Iterable[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr>{outcome_cell(Outcome.PASSED if v.get('passed') else Outcome.FAILED)}<td>{escape(str(v.get('name', '')))}</td>"
        f"<td>{escape(str(v.get('expected', '')))}</td><td>{escape(str(v.get('observed', '')))}</td>"
        f"{num(seconds(v.get('at')))}</tr>"
        for v in verdicts
    )
    return _section_table("Verdicts", ("verdict", "assertion", "expected", "observed", "at"), rows)


def _faults(faults: Iterable[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(f.get('label', '')))}</td><td>{escape(str(f.get('kind', '')))}</td>"
        f"<td>{escape(str(f.get('target', '')))}</td>{num(seconds(f.get('start')))}"
        f"{num(seconds(f.get('end')) if f.get('end') is not None else 'until the end')}</tr>"
        for f in faults
    )
    return _section_table("Faults", ("fault", "kind", "target", "from", "to"), rows)


def _section_table(title: str, headers: tuple[str, ...], rows: str) -> str:
    """A titled table of a scenario's section; nothing at all when it has no rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<h3>{title}</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


# -- run metadata and logs -------------------------------------------------------------------------


def _metadata(run: Mapping[str, Any], results: Mapping[str, Any], run_dir: Path | None) -> str:
    rows = [("schema version", results.get("schema_version")), ("started", run.get("started")),
            ("seed", run.get("seed")), ("backend", run.get("backend")), ("topology", run.get("topology")),
            ("git commit", run.get("git_commit"))]
    if run.get("repeat") is not None:
        rows.append(("repeat", run["repeat"]))
    rows += [(f"version: {k}", v) for k, v in sorted((run.get("versions") or {}).items())]
    rows += [(f"machine: {k}", v) for k, v in sorted((run.get("machine") or {}).items())]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape('–' if v is None else str(v))}</td></tr>" for k, v in rows)
    if run.get("replay"):
        # The one line a reader copies to reproduce the run: shown whole, first, in a code span.
        body = f'<tr><th>replay</th><td><code id="replay">{escape(str(run["replay"]))}</code></td></tr>' + body
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
