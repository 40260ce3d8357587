"""Read a run directory's ``results.json`` and write its ``index.html`` beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ConfigError, UsageError

from .html import render_report


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from ``run_dir/results.json`` and return its path.

    Raises ``UsageError`` (a ``ConfigError`` when the file is malformed) naming ``results.json``.
    """
    source = run_dir / "results.json"
    results = _load(source)
    target = run_dir / "index.html"
    # Written whole and then renamed, so a browser never shows half a report.
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(render_report(results, run_dir=run_dir), encoding="utf-8")
    tmp.replace(target)
    return target


def _load(source: Path) -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{source}: no results file (is this a run directory?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: cannot read results: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(str(source), f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise ConfigError(str(source), "not a results file: expected an object with a 'scenarios' list")
    return data
