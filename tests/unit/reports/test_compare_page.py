"""The comparison as a terminal table and as a self-contained HTML page, and writing it next to a run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError, UsageError
from reports.compare import compare_runs
from reports.compare_page import render_compare_page, render_table
from reports.render import write_comparison

from tests.unit.reports.builders import run, scenario


def base_and_new() -> tuple[dict[str, Any], dict[str, Any]]:
    """NEW's p95 of "Kill & restart" tripled and "Dropped <b>" is gone; "Steady" did not change."""
    base = run(scenario("Kill & restart"), scenario("Steady", degrade=None, recover=None), scenario("Dropped <b>"))
    new = run(scenario("Kill & restart", p95=0.2), scenario("Steady", degrade=None, recover=None))
    base["run"] = {"git_commit": "aaaa111", "seed": 1, "replay": "harness run --seed 1"}
    new["run"] = {"git_commit": "bbbb222", "seed": 2}
    return base, new


def test_table_marks_regressed_figures_and_lists_each_regression() -> None:
    """The table shows BASE→NEW per figure, marks the regressed p95, and ends with the regressions and count."""
    comparison = compare_runs(*base_and_new())
    table = render_table(comparison)
    kill = next(line for line in table.splitlines() if line.startswith("Kill & restart"))
    assert "! 66ms→200ms" in kill and "passed→passed" in kill
    assert "! " not in next(line for line in table.splitlines() if line.startswith("Steady"))
    assert "passed→MISSING" in table
    assert "REGRESSION Dropped <b>: missing in NEW" in table
    assert table.splitlines()[-1] == "2 regression(s)"
    assert "limits: time to degrade +1 s, time to recover +2 s, availability -5 pp, p95 latency +50% and 20 ms" in table


def test_table_without_regression_says_so() -> None:
    """Two identical runs end with 'no regression'."""
    base, _ = base_and_new()
    assert render_table(compare_runs(base, base)).splitlines()[-1] == "no regression"


def test_page_shows_both_runs_side_by_side_and_escapes_names() -> None:
    """The page has the verdict, both commits, the regressed cell marked, and scenario names escaped."""
    base, new = base_and_new()
    page = render_compare_page(compare_runs(base, new), base, new, base_label="runs/a", new_label="runs/b",
                               base_href="../a/index.html", new_href=None)
    assert re.search(r'id="verdict"[^>]*>REGRESSED<', page)
    assert "aaaa111" in page and "bbbb222" in page and "harness run --seed 1" in page
    assert re.search(r'class="num pair regressed">66ms → 200ms<', page)
    assert "Dropped &lt;b&gt;" in page and "Dropped <b>" not in page
    assert "Kill &amp; restart" in page
    assert 'href="../a/index.html"' in page


def test_page_is_self_contained() -> None:
    """No src, no href with a scheme or protocol-relative URL, no CSS url() or @import, no script."""
    base, new = base_and_new()
    page = render_compare_page(compare_runs(base, new), base, new, base_label="a", new_label="b",
                               base_href="../a/index.html", new_href="index.html")
    targets = re.findall(r'\b(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', page, flags=re.IGNORECASE)
    assert targets == ["../a/index.html", "index.html"]
    assert "url(" not in page and "@import" not in page and "<script" not in page


def test_write_comparison_writes_compare_html_in_new_and_links_both_reports(tmp_path: Path) -> None:
    """By default the page lands in NEW's run directory and links each run's index.html relatively."""
    base, new = base_and_new()
    for name, results in (("base", base), ("new", new)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(results))
        (tmp_path / name / "index.html").write_text("<!DOCTYPE html>")
    comparison, page = write_comparison(tmp_path / "base", tmp_path / "new")
    assert page == tmp_path / "new" / "compare.html"
    text = page.read_text(encoding="utf-8")
    assert 'href="../base/index.html"' in text and 'href="index.html"' in text
    assert comparison.regressed


def test_write_comparison_accepts_results_files_and_an_out_path(tmp_path: Path) -> None:
    """Results files may be named directly, and --out puts the page elsewhere, without links to absent reports."""
    base, new = base_and_new()
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "n.json").write_text(json.dumps(base))
    comparison, page = write_comparison(tmp_path / "b.json", tmp_path / "n.json", out=tmp_path / "out.html")
    assert page == tmp_path / "out.html" and not comparison.regressed
    assert "href=" not in page.read_text(encoding="utf-8")


def test_write_comparison_missing_results_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    """A BASE without results.json is refused with the file's path, before anything is written."""
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "results.json").write_text(json.dumps(run()))
    with pytest.raises(UsageError, match=re.escape(str(tmp_path / "base" / "results.json"))):
        write_comparison(tmp_path / "base", tmp_path / "new")
    assert not (tmp_path / "new" / "compare.html").exists()


def test_write_comparison_malformed_results_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    """A NEW whose scenario has no name is refused naming NEW's results.json and the scenario."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "results.json").write_text(json.dumps(run(scenario())))
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "results.json").write_text(json.dumps({"scenarios": [{"outcome": "passed"}]}))
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "new" / "results.json")) + ": scenario 1"):
        write_comparison(tmp_path / "base", tmp_path / "new")
