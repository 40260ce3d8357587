"""'harness report --compare' end to end: its exit codes, its table, its page, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT
from tests.unit.reports.builders import run, scenario

pytestmark = [pytest.mark.integration]


def harness(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "harness.py"), "report", *words],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)


def run_dir(tmp_path: Path, name: str, results: dict[str, Any]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_compare_without_regression_exits_0_and_writes_the_page(tmp_path: Path) -> None:
    """Equal runs: exit 0, a table ending 'no regression', and NEW/compare.html written."""
    base = run_dir(tmp_path, "base", run(scenario()))
    new = run_dir(tmp_path, "new", run(scenario(recover=31.0)))
    result = harness("--compare", str(base), str(new))
    assert result.returncode == 0, result.stderr
    assert "no regression" in result.stdout
    assert (new / "compare.html").read_text().startswith("<!DOCTYPE html>")


def test_compare_regression_exits_1_naming_it(tmp_path: Path) -> None:
    """A slower recovery beyond the user's limit exits 1 and prints the regression; the default limit allows it."""
    base = run_dir(tmp_path, "base", run(scenario()))
    new = run_dir(tmp_path, "new", run(scenario(recover=31.0)))
    result = harness("--compare", str(base), str(new), "--max-recover-increase", "500ms",
                     "--out", str(tmp_path / "page.html"))
    assert result.returncode == 1, result.stderr
    assert "REGRESSION Vector-db killed: time to recover grew 1.00 s" in result.stdout
    assert (tmp_path / "page.html").exists() and not (new / "compare.html").exists()


def test_compare_missing_scenario_exits_1(tmp_path: Path) -> None:
    """A scenario that NEW no longer runs is a regression."""
    base = run_dir(tmp_path, "base", run(scenario(), scenario("Other")))
    new = run_dir(tmp_path, "new", run(scenario()))
    result = harness("--compare", str(base), str(new))
    assert result.returncode == 1
    assert "REGRESSION Other: missing in NEW" in result.stdout


@pytest.mark.parametrize("content", [None, '{"scenarios": [', '{"runs": []}'], ids=["missing", "truncated", "not-results"])
def test_compare_bad_results_exits_2_with_one_line_naming_the_file(tmp_path: Path, content: str | None) -> None:
    """A missing, truncated or foreign results.json exits 2 with one line on stderr naming that file."""
    base = run_dir(tmp_path, "base", run(scenario()))
    new = tmp_path / "new"
    new.mkdir()
    if content is not None:
        (new / "results.json").write_text(content)
    result = harness("--compare", str(base), str(new))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(new / "results.json") in lines[0], result.stderr


@pytest.mark.parametrize("words", [
    ["--compare", "a", "b", "--max-p95-increase", "fast"],
    ["--compare", "a", "b", "--max-availability-drop", "-1"],
    ["somedir", "--compare", "a", "b"],
    ["somedir", "--max-recover-increase", "1s"],
    [],
])
def test_compare_usage_errors_exit_2(tmp_path: Path, words: list[str]) -> None:
    """Unreadable limits, a negative drop, RUN_DIR with --compare, a limit without --compare, or nothing: exit 2."""
    for name in ("a", "b"):
        run_dir(tmp_path, name, run(scenario()))
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "harness.py"), "report", *words],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
