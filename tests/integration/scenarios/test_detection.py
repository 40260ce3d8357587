"""Every flawed gateway variant is caught by the bundled suite, on the scenario and assertion expected.

The reference passing the same features is test_default_suite.py; docs/detection.md has the whole
matrix (python -m bench.detection). Here each variant runs only the scenario that must catch it.

The variants' runs are started together, ``PARALLEL`` at a time, when the first of them is needed,
and each test waits for its own. Running them side by side cannot hide a catch: a loaded machine
makes a flawed gateway fail more, never pass, and only the expected failed assertion counts.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench.detection import EXPECTED, FEATURES, caught, run_suite
from system_under_test.gateway.variants import Flaw

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARALLEL = 4
# One port-offset band per concurrent run, so two runs never pick the same free offset at once.
BANDS = tuple(range(9_000 + 600 * i, 9_600 + 600 * i, 100) for i in range(PARALLEL))

Outcome = tuple[int, dict[str, Any]]


@pytest.fixture(scope="module")
def variant_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Flaw, Future[Outcome]]]:
    """The run of every variant selected in this session, ``PARALLEL`` at a time, started at once."""
    selected = [flaw for item in request.session.items
                if isinstance(item, pytest.Function) and item.module is request.module
                and item.originalname == "test_variant_is_caught"
                and isinstance(flaw := item.callspec.params.get("flaw"), Flaw)]
    root = tmp_path_factory.mktemp("detection")
    bands: queue.Queue[range] = queue.Queue()
    for band in BANDS:
        bands.put(band)

    def run(flaw: Flaw) -> Outcome:
        band = bands.get()
        try:
            catch = EXPECTED[flaw]
            return run_suite(flaw, [str(FEATURES / catch.scenario)], root / flaw.value, seed=3, timeout_s=300,
                             offsets=band)
        finally:
            bands.put(band)

    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="detection") as pool:
        futures = {flaw: pool.submit(run, flaw) for flaw in selected}
        try:
            yield futures
        finally:
            for future in futures.values():
                future.cancel()  # the ones not started yet; the running ones end within their timeout


@pytest.mark.parametrize("flaw", list(Flaw), ids=[f.value for f in Flaw])
def test_variant_is_caught(flaw: Flaw, variant_runs: dict[Flaw, Future[Outcome]]) -> None:
    """The variant's run exits 1 and its expected scenario failed on the expected assertion."""
    code, results = variant_runs[flaw].result(timeout=900)
    scenarios = results.get("scenarios", [])
    summary = [(s["name"], s["outcome"], [v["name"] for v in s["verdicts"] if not v["passed"]]) for s in scenarios]
    assert code == 1, summary
    assert caught(results, EXPECTED[flaw]), summary


def test_every_variant_has_an_expected_catch() -> None:
    """Adding a variant without saying which scenario catches it fails here."""
    assert set(EXPECTED) == set(Flaw)
