"""Monitoring as part of what the harness proves: a real Prometheus scraping the system, alert rules,
and the timeline of the alerts they raised.

    rules.py     alert rule files: parsed with line numbers, checked by promtool, copied for a run
    config.py    scrape targets from the topology, prometheus.yml
    server.py    the Prometheus process: find, start on loopback, wait until ready, stop by PID
    client.py    a typed client of the HTTP API; errors translated to PrometheusError (exit 3)
    timeline.py  when each alert went pending, fired and resolved, on the harness's monotonic clock
    session.py   Monitoring: the object the CLI and the runner own beside the system
    checks.py    the alert steps of a plan, checked against the loaded rules before anything starts

The reference system never imports this package; it only serves /metrics.
"""

from __future__ import annotations

from .client import PrometheusClient, PrometheusUnreachable
from .rules import AlertRule, RuleSet, check_rules, load_rules
from .session import Monitoring, stop_recorded

__all__ = ["AlertRule", "Monitoring", "PrometheusClient", "PrometheusUnreachable", "RuleSet", "check_rules",
           "load_rules", "stop_recorded"]
