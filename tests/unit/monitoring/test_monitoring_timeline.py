"""The alert timeline: state changes become intervals; a blind timeline is an error, not a quiet system."""

from __future__ import annotations

import httpx
import pytest

from core.errors import PrometheusError
from core.journal import Journal
from monitoring.client import Alert, PrometheusClient
from monitoring.timeline import AlertTimeline, build_intervals, summarize


def _alert(name: str, state: str, **labels: str) -> Alert:
    return Alert(name, state, {"alertname": name, **labels}, None)


def _timeline(clock: list[float], journal: Journal | None = None) -> AlertTimeline:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = PrometheusClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    return AlertTimeline(client, journal, max_silence_s=5.0, clock=lambda: clock[0])


def test_monitoring_timeline_pending_firing_resolved_make_one_interval() -> None:
    """pending at 1, firing at 3, gone at 7: one interval with those times, journaled as changes."""
    clock, journal = [0.0], Journal()
    timeline = _timeline(clock, journal)
    timeline.observe([], 0.0)
    timeline.observe([_alert("A", "pending")], 1.0)
    timeline.observe([_alert("A", "pending")], 2.0)
    timeline.observe([_alert("A", "firing")], 3.0)
    timeline.observe([], 7.0)
    [interval] = timeline.intervals()
    assert (interval.pending_at, interval.fired_at, interval.resolved_at) == (1.0, 3.0, 7.0)
    assert [e.data["state"] for e in journal.of_type("alert_changed")] == ["pending", "firing", "inactive"]
    assert interval.to_json(origin=1.0)["fired_at"] == 2.0


def test_monitoring_timeline_instances_are_told_apart_by_labels() -> None:
    """Two instances of one alert (different labels) are two intervals; one resolving leaves the other."""
    timeline = _timeline([0.0])
    timeline.observe([_alert("B", "firing", dependency="llm"), _alert("B", "pending", dependency="vector-db")], 1.0)
    timeline.observe([_alert("B", "firing", dependency="llm")], 2.0)
    intervals = {i.labels["dependency"]: i for i in timeline.intervals()}
    assert intervals["llm"].resolved_at is None and intervals["llm"].fired_at == 1.0
    assert intervals["vector-db"].fired_at is None and intervals["vector-db"].resolved_at == 2.0
    assert len(timeline.active()) == 1


def test_monitoring_timeline_window_keeps_overlapping_intervals() -> None:
    """Intervals that ended before the window or began after it are left out."""
    timeline = _timeline([0.0])
    timeline.observe([_alert("A", "firing")], 1.0)
    timeline.observe([], 2.0)
    timeline.observe([_alert("C", "firing")], 10.0)
    assert [i.name for i in timeline.intervals(5.0, 20.0)] == ["C"]
    assert [i.name for i in timeline.intervals(0.0, 5.0)] == ["A"]
    assert [i.name for i in build_intervals(timeline.changes(), 1.5, 1.8)] == ["A"]


def test_monitoring_timeline_check_raises_after_silence() -> None:
    """Failed polls for longer than max_silence_s raise PrometheusError; a shorter gap does not."""
    clock = [100.0]
    timeline = _timeline(clock)
    timeline.observe([], 100.0)
    with pytest.raises(PrometheusError):
        timeline.poll_once()
    clock[0] = 104.0
    timeline.check()  # 4 s blind: within the grace
    clock[0] = 106.0
    with pytest.raises(PrometheusError) as caught:
        timeline.check()
    assert "not measured" in str(caught.value)


def test_monitoring_timeline_summary_times_alert_and_resolve() -> None:
    """Time to alert runs from the fault to the first firing after it; time to resolve from the heal to the last resolution."""
    timeline = _timeline([0.0])
    timeline.observe([_alert("Old", "firing")], 1.0)
    timeline.observe([], 2.0)
    timeline.observe([_alert("A", "pending")], 11.0)
    timeline.observe([_alert("A", "firing"), _alert("B", "firing")], 16.0)
    timeline.observe([_alert("B", "firing")], 30.0)
    timeline.observe([], 34.0)
    figures = summarize(timeline.intervals(), fault=10.0, recovery=28.0)
    assert figures.time_to_alert_s == pytest.approx(6.0)
    assert figures.time_to_resolve_s == pytest.approx(6.0)
    assert figures.fired == ("A", "B")
    assert summarize(timeline.intervals(), fault=40.0, recovery=None).time_to_alert_s is None
