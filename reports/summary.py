"""The end-of-run table ``harness run`` prints: one line per scenario with its outcome and key figures.

Read from ``results.json`` like every other report, so the terminal and the HTML page can never tell
two stories about one run.
"""

from __future__ import annotations

import json
from pathlib import Path

from scenarios.outcome import Outcome


def _num(value: object, scale: float = 1.0, unit: str = "") -> str:
    return f"{float(value) * scale:.1f}{unit}" if isinstance(value, int | float) else "-"


def render_summary(results_path: Path) -> str:
    """The table: outcome, time, availability, p95, time to degrade and recover (and to alert and resolve
    when the run had monitoring) per scenario; then the pass rates of a ``--repeat`` run."""
    data = json.loads(results_path.read_text())
    alerts = any("time_to_alert_s" in s["summary"] for s in data["scenarios"])  # the run had monitoring
    head = f" {'alert':>7} {'resolve':>8}" if alerts else ""
    lines = [f"{'outcome':<12} {'time':>7} {'avail':>7} {'p95':>8} {'degrade':>8} {'recover':>8}{head}  scenario"]
    for s in data["scenarios"]:
        m = s["summary"]
        cells = (f" {_num(m.get('time_to_alert_s'), unit='s'):>7} {_num(m.get('time_to_resolve_s'), unit='s'):>8}"
                 if alerts else "")
        lines.append(f"{s['outcome'].upper():<12} {_num(s['duration_s'], unit='s'):>7} "
                     f"{_num(m['availability'], 100, '%'):>7} {_num(m['p95_s'], 1000, 'ms'):>8} "
                     f"{_num(m['time_to_degrade_s'], unit='s'):>8} {_num(m['time_to_recover_s'], unit='s'):>8}"
                     f"{cells}  {s['name']}")
        if s["outcome"] != Outcome.PASSED and s.get("message"):
            lines.append(f"{'':<12} {s['message']}")
    rates = data.get("pass_rates")
    if rates:
        lines.append(f"{'pass rate':>12} {'95% CI':>13} {'runs':>5} {'fail':>5} {'error':>5}  scenario")
        for r in rates:
            lines.append(f"{r['rate'] * 100:>11.0f}% {r['ci_low'] * 100:>5.0f}-{r['ci_high'] * 100:.0f}%   "
                         f"{r['runs']:>5} {r['failed']:>5} {r['error']:>5}  {r['name']}")
    return "\n".join(lines)
