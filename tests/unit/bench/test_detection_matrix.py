"""The detection matrix's pure parts: what counts as caught, and how the table reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.detection import EXPECTED, FEATURES, Catch, cells, caught, render, scenario_line
from system_under_test.gateway.variants import Flaw


def scenario(line: int, outcome: str, *verdicts: tuple[str, bool]) -> dict[str, Any]:
    return {"name": f"scenario {line}", "path": "/x/features/demo.feature", "line": line, "outcome": outcome,
            "message": None, "verdicts": [{"name": n, "passed": p} for n, p in verdicts]}


def test_caught_needs_the_expected_scenario_to_fail_on_the_expected_assertion() -> None:
    """Failing elsewhere, failing on another assertion, or erroring does not count as caught."""
    catch = Catch("demo.feature", "scenario 6", "no request returned a server error")
    hit = {"scenarios": [scenario(6, "failed", ("mode becomes x", True), ("no request returned a server error", False))]}
    assert caught(hit, catch)
    other_assertion = {"scenarios": [scenario(6, "failed", ("mode becomes x", False))]}
    other_scenario = {"scenarios": [scenario(9, "failed", ("no request returned a server error", False))]}
    errored = {"scenarios": [scenario(6, "error", ("no request returned a server error", False))]}
    for results in (other_assertion, other_scenario, errored, {}):
        assert not caught(results, catch)


def test_matrix_marks_the_expected_cell_and_whether_it_was_caught() -> None:
    """A row per variant; the expected scenario is marked; a missed catch is a bold NO."""
    flaw = Flaw.NO_FALLBACK
    key = EXPECTED[flaw].scenario
    line = int(key.split(":")[1])
    results = {"scenarios": [{**scenario(line, "failed", (EXPECTED[flaw].verdict, False)),
                              "path": f"/x/features/{key.split(':')[0]}"}]}
    rows = {"reference": cells({"scenarios": [{**scenario(line, "passed"), "path": f"/x/{key.split(':')[0]}"}]}),
            flaw.value: cells(results)}
    text = render(rows, {key: "Vector-db killed"}, "Measured by a test.")
    assert "| `reference` | pass | - |" in text
    assert f"| `no-fallback` | **FAILED**: {EXPECTED[flaw].verdict} (expected) | yes |" in text
    missed = render({flaw.value: {key: cells(results)[key].__class__("passed")}}, {key: "x"}, "")
    assert "| **NO** |" in missed


def test_every_variant_is_expected_somewhere() -> None:
    """A new variant without an expected catch would go unnoticed by the detection test."""
    assert set(EXPECTED) == set(Flaw)


def test_every_expected_catch_names_one_scenario_of_the_bundled_features() -> None:
    """Each catch's title finds exactly one scenario in its feature file, wherever edits moved it."""
    for flaw, catch in EXPECTED.items():
        feature, line = catch.scenario.split(":")
        text = (FEATURES / feature).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        assert text.strip().startswith(f"Scenario: {catch.title}"), flaw


def test_scenario_line_refuses_a_title_that_is_missing_or_ambiguous(tmp_path: Path) -> None:
    """No scenario, or two with the same start, is a ValueError rather than a silent wrong catch."""
    path = tmp_path / "demo.feature"
    path.write_text("Feature: d\n  Scenario: Kill one\n    Given x\n  Scenario: Kill two\n    Given y\n")
    assert scenario_line(path, "Kill two") == 4
    for title in ("Kill", "Pause"):
        with pytest.raises(ValueError):
            scenario_line(path, title)
