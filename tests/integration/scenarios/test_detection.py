"""Every flawed gateway variant is caught by the bundled suite, on the scenario and assertion expected.

The reference passing the same features is test_default_suite.py; docs/detection.md has the whole
matrix (python -m bench.detection). Here each variant runs only the scenario that must catch it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.detection import EXPECTED, FEATURES, caught, run_suite
from system_under_test.gateway.variants import Flaw

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("flaw", list(Flaw), ids=[f.value for f in Flaw])
def test_variant_is_caught(flaw: Flaw, tmp_path: Path) -> None:
    """The variant's run exits 1 and its expected scenario failed on the expected assertion."""
    catch = EXPECTED[flaw]
    code, results = run_suite(flaw, [str(FEATURES / catch.scenario)], tmp_path / "run", seed=3, timeout_s=300)
    scenarios = results.get("scenarios", [])
    summary = [(s["name"], s["outcome"], [v["name"] for v in s["verdicts"] if not v["passed"]]) for s in scenarios]
    assert code == 1, summary
    assert caught(results, catch), summary


def test_every_variant_has_an_expected_catch() -> None:
    """Adding a variant without saying which scenario catches it fails here."""
    assert set(EXPECTED) == set(Flaw)
