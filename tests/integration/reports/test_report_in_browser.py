"""A real run's results and report: results.json matches the schema, and index.html renders in headless
Chromium with every figure loaded and nothing fetched beyond the file itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import load_topology
from reports.schema import schema_errors
from tests.integration.reports.browser import chromium, load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """features/steady_state.feature run by the harness against the reference system, on free ports."""
    base = tmp_path_factory.mktemp("report-run")
    offset = free_port_offset(load_topology(), start=11_500, stop=11_800)
    out = base / "run"
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", str(PROJECT_ROOT / "features" /
               "steady_state.feature"), "--port-offset", str(offset), "--out", str(out), "--seed", "5"]
    env = {**os.environ, "HARNESS_STATE_DIR": str(base / "state")}
    # The harness starts and stops the system itself (a run that started it stops it, by PID).
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    yield out


def test_real_run_results_match_the_schema(real_run: Path) -> None:
    """The results.json a real run writes validates against reports/results.schema.json."""
    data = json.loads((real_run / "results.json").read_text())
    assert data["scenarios"] and data["scenarios"][0]["load"], "the run recorded load"
    assert schema_errors(data) == []


def test_real_report_renders_in_chromium_self_contained(real_run: Path) -> None:
    """In headless Chromium every <img> of the report loads, and the page requests only itself and data: URIs."""
    page = real_run / "index.html"
    with chromium() as browser:
        view = load(browser, page)
    scenarios = len(json.loads((real_run / "results.json").read_text())["scenarios"])
    assert len(view.images) == scenarios
    broken = [i for i in view.images if not i["complete"] or i["naturalWidth"] <= 0 or i["naturalHeight"] <= 0]
    assert broken == []
    foreign = [url for url in view.requests if url != page.resolve().as_uri() and not url.startswith("data:")]
    assert foreign == []
    assert page.resolve().as_uri() in view.requests
    assert view.screenshot.startswith(PNG_MAGIC) and view.height > 1000
    (real_run / "screenshot.png").write_bytes(view.screenshot)  # kept with the run for a person to look at


def test_browser_check_sees_a_broken_image_and_a_foreign_request(tmp_path: Path) -> None:
    """The same check catches what it guards against: an image that does not load, a request off the page."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA">'
                    '<img src="http://127.0.0.1:9/missing.png"></body></html>')
    with chromium() as browser:
        view = load(browser, page)
    assert [i["naturalWidth"] for i in view.images] == [0, 0]
    assert "http://127.0.0.1:9/missing.png" in view.requests
