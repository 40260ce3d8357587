"""The reports' file side: read ``results.json``, write a run's ``index.html`` or a two-run comparison.

Pages are written whole and then renamed, so a browser never shows half a page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.errors import ConfigError, UsageError

from .compare import Comparison, Thresholds, compare_runs
from .compare_page import render_compare_page
from .html import render_report


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from ``run_dir/results.json`` and return its path.

    Raises ``UsageError`` (a ``ConfigError`` when the file is malformed) naming ``results.json``.
    """
    results = load_results(run_dir / "results.json")
    target = run_dir / "index.html"
    _write(target, render_report(results, run_dir=run_dir))
    return target


def write_comparison(base_run: Path, new_run: Path, thresholds: Thresholds | None = None,
                     out: Path | None = None) -> tuple[Comparison, Path]:
    """Compare two runs (run directories or their ``results.json``) and write the comparison page.

    The page goes to ``out``, by default ``compare.html`` in NEW's run directory, and links each run's
    ``index.html`` relatively. Raises ``UsageError``/``ConfigError`` naming a missing or malformed file.
    """
    base_file, new_file = _results_file(base_run), _results_file(new_run)
    base, new = load_results(base_file), load_results(new_file)
    comparison = compare_runs(base, new, thresholds, base_source=str(base_file), new_source=str(new_file))
    target = out if out is not None else new_file.parent / "compare.html"
    if target.is_dir():
        raise UsageError(f"{target}: is a directory; --out names the page to write, e.g. {target / 'compare.html'}")

    def href(results_file: Path) -> str | None:
        index = results_file.parent / "index.html"
        return os.path.relpath(index.resolve(), target.parent.resolve()) if index.is_file() else None

    page = render_compare_page(comparison, base, new, base_label=str(base_file.parent),
                               new_label=str(new_file.parent), base_href=href(base_file), new_href=href(new_file))
    try:
        _write(target, page)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the comparison page: {exc.strerror or exc}") from None
    return comparison, target


def _results_file(run: Path) -> Path:
    return run if run.is_file() else run / "results.json"


def _write(target: Path, text: str) -> None:
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def load_results(source: Path) -> dict[str, Any]:
    """The dict in a ``results.json``; ``UsageError`` naming the file when it is missing or unreadable,
    ``ConfigError`` (file:line) when it is not JSON or not a results file."""
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
