"""The bench's alerting figures from known measurements: ratios to the rule's promise, medians of the cost runs."""

from __future__ import annotations

import pytest

from bench.alerting import AlertDelay, RunCost
from bench.catalog import alerting


def test_alert_bench_figures_ratio_and_goals() -> None:
    """6 s against a 5 s promise is 1.2x (met at the limit); a never-fired alert has no number and no verdict."""
    delays = [AlertDelay("kill", "vector-db", "ChatbotServiceDown", 6.0, 5.0, 2.0),
              AlertDelay("kill", "vector-db", "ChatbotDegraded", 15.0, 12.0, None),
              AlertDelay("kill", "vector-db", "ChatbotBreakerOpen", None, 7.0, None)]
    figures = {f.key.split(".")[-1] if f.key.startswith("alerting.cost") else f.name: f for f in alerting(delays, [])}
    down = figures["kill vector-db: ChatbotServiceDown fired"]
    assert down.ratio == pytest.approx(1.2) and down.met is True and "2.0 s" in down.note
    assert figures["kill vector-db: ChatbotDegraded fired"].met is False
    assert figures["kill vector-db: ChatbotBreakerOpen fired"].met is None
    assert figures["cost_cpu"].value is None


def test_alert_bench_figures_cost_uses_medians() -> None:
    """The cost figures compare the medians of the runs with and without monitoring (goal: 10% more at most)."""
    costs = [RunCost(False, 20.0, 30.0, 10.0), RunCost(True, 20.5, 31.0, 10.5), RunCost(False, 21.0, 30.0, 30.0),
             RunCost(True, 21.0, 31.0, 12.0), RunCost(False, 20.0, 30.0, 11.0), RunCost(True, 20.0, 31.0, 12.5)]
    figures = {f.key: f for f in alerting([], costs)}
    cpu, wall = figures["alerting.cost_cpu"], figures["alerting.cost_scenario"]
    assert (cpu.value, cpu.reference) == (12.0, 11.0) and cpu.met is True
    assert (wall.value, wall.reference) == (20.5, 20.0) and wall.met is True
    assert "median of 3" in wall.note
