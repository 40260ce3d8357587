"""Alerts in the results and the report: summary figures, the alert lane, the summary table's columns."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from reports.summary import render_summary
from monitoring.timeline import AlertInterval
from reports.figures import scenario_figure
from reports.html import render_report
from scenarios.results import ScenarioResult


def _scenario(alerts: list[AlertInterval] | None) -> ScenarioResult:
    result = ScenarioResult("s", "f", "f.feature", 3, [], started=100.0, started_wall=1.7e9, finished=140.0)
    result.marks = {"start": 100.5, "fault": 105.0, "recovery": 120.0}
    result.alerts = alerts
    return result


def test_alert_report_summary_has_alert_figures_only_with_monitoring() -> None:
    """With monitoring the summary gains time to alert/resolve and the fired names; without, nothing."""
    fired = AlertInterval("ChatbotDegraded", {"alertname": "ChatbotDegraded", "severity": "ticket"}, 106.0, 116.5, 123.0)
    data = _scenario([fired]).to_json()
    assert data["summary"]["time_to_alert_s"] == 11.5
    assert data["summary"]["time_to_resolve_s"] == 3.0
    assert data["summary"]["alerts_fired"] == ["ChatbotDegraded"]
    assert data["alerts"][0] == {"name": "ChatbotDegraded", "labels": fired.labels, "pending_at": 6.0,
                                 "fired_at": 16.5, "resolved_at": 23.0, "severity": "ticket"}
    plain = _scenario(None).to_json()
    assert "alerts" not in plain and "time_to_alert_s" not in plain["summary"]


def test_alert_report_figure_draws_a_lane_per_alert() -> None:
    """An alert lane makes the figure taller than the same scenario without alerts; it still renders."""
    with_alerts = _scenario([AlertInterval("A", {}, 106.0, 110.0, None), AlertInterval("B", {}, 101.0, None, 103.0)])
    tall = Image.open(io.BytesIO(scenario_figure(with_alerts.to_json())))
    short = Image.open(io.BytesIO(scenario_figure(_scenario(None).to_json())))
    assert tall.size[1] > short.size[1]


def test_alert_report_tables_get_alert_columns(tmp_path: Path) -> None:
    """The HTML summary and the end-of-run table show time to alert and to resolve when monitoring ran."""
    fired = AlertInterval("X", {"alertname": "X"}, 106.0, 108.0, 125.0)
    results: dict[str, Any] = {"run": {}, "outcome": "passed", "scenarios": [_scenario([fired]).to_json()],
                               "events": []}
    page = render_report(results)
    assert "time to alert" in page and "time to resolve" in page
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    table = render_summary(path).splitlines()
    assert table[0].split()[6:8] == ["alert", "resolve"]
    assert "3.0s" in table[1] and "5.0s" in table[1]
    results["scenarios"] = [_scenario(None).to_json()]
    assert "time to alert" not in render_report(results)
