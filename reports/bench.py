"""A bench run's page: the ``harness bench`` table as one self-contained HTML file.

Built from ``bench.json`` with the same cell formatting as the terminal table (``reports.bench_table``), so
the two always agree; styled with the run report's inline CSS (reports.format). No scripts, no external URLs, every
string escaped (figure names and notes can carry paths and error text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .bench_table import HEADERS, cells
from core.errors import ConfigError, UsageError

from .format import CSS

_EXTRA_CSS = ".met-yes{color:#1a7f37;font-weight:700} .met-NO{color:#cf222e;font-weight:700} td.na{color:#6e7781}"


def render_bench(document: Mapping[str, Any]) -> str:
    """The HTML page for a ``bench.json`` document."""
    meta: Mapping[str, Any] = document.get("meta") or {}
    figures: Sequence[Mapping[str, Any]] = document.get("figures") or []
    title = f"Benchmarks ({meta.get('profile', '?')}): {meta.get('topology', '')}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _summary(meta, figures),
        _table(figures),
        _meta(meta),
        "</body></html>",
    ])


def _summary(meta: Mapping[str, Any], figures: Sequence[Mapping[str, Any]]) -> str:
    judged = [f for f in figures if f.get("met") is not None]
    met = sum(1 for f in judged if f.get("met"))
    na = sum(1 for f in figures if f.get("na"))
    return (f'<p class="counts"><span>{met} of {len(judged)} goals met</span><span>{len(figures)} figures</span>'
            f'<span>{na} n/a</span></p><p class="muted">Command: <code>{escape(str(meta.get("command", "")))}</code>; '
            f'load average before / after: {escape(str(meta.get("load_average_before")))} / '
            f'{escape(str(meta.get("load_average_after")))}. Ratios are against a reference measured in the same run.</p>')


def _table(figures: Sequence[Mapping[str, Any]]) -> str:
    rows = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in (*HEADERS, "note")) + "</tr>"]
    group = None
    for figure in figures:
        if figure.get("group") != group:
            group = figure.get("group")
            rows.append(f'<tr><th colspan="{len(HEADERS) + 1}">{escape(str(group))}</th></tr>')
        row = cells(figure)
        tds = [f"<td>{escape(row[0])}</td>"]
        if figure.get("na"):
            tds.append(f'<td class="na" colspan="3">{escape(row[1])}</td>')
        else:
            tds += [f'<td class="num">{escape(c)}</td>' for c in row[1:4]]
        tds.append(f"<td>{escape(row[4])}</td>")
        tds.append(f'<td class="met-{escape(row[5])}">{escape(row[5])}</td>')
        tds.append(f'<td class="muted">{escape(str(figure.get("note") or ""))}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _meta(meta: Mapping[str, Any]) -> str:
    return "<h2>Run</h2><pre>" + escape(json.dumps(dict(meta), indent=2)) + "</pre>"


def write_bench_page(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from ``run_dir/bench.json`` and return its path."""
    source = run_dir / "bench.json"
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{source}: no bench results (is this a bench run directory?)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(str(source), f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("figures"), list):
        raise ConfigError(str(source), "not a bench file: expected an object with a 'figures' list")
    target = run_dir / "index.html"
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(render_bench(document), encoding="utf-8")
    tmp.replace(target)
    return target
