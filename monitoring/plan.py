"""What a command's monitoring will be, decided and checked before anything starts.

    --prometheus-url URL     an existing Prometheus: reached now (PrometheusError naming the flag,
                             exit 3), its alerting rules read for the step checks; nothing started
    --monitoring / topology  our own Prometheus: rule files (--alert-rules, else monitoring.rules)
    monitoring.enabled       parsed (ConfigError file:line, exit 2), checked by promtool; prometheus
                             and promtool found (PrometheusError, exit 3)
    --no-monitoring          none (alert steps are then refused, file:line)

``plan_monitoring`` returns None when the command runs without monitoring; otherwise a plan whose
``build`` makes the ``Monitoring`` the runner starts, and whose ``checker`` answers the step checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import UsageError
from core.journal import Journal
from core.safety import check_host
from core.settings import HarnessSettings
from core.topology import Topology

from .rules import RuleSet, check_rules, load_rules
from .server import find_binary
from .session import Monitoring


@dataclass(frozen=True)
class MonitoringPlan:
    topology: Topology
    settings: HarnessSettings
    rules: RuleSet | None  # None with an external Prometheus
    external_url: str | None
    promtool: Path | None
    alerts: Monitoring  # answers the names and for: durations the steps are checked against

    def build(self, work_dir: Path, journal: Journal | None = None) -> Monitoring:
        """A fresh ``Monitoring`` for one run (or ``harness up``), its files under ``work_dir``."""
        return Monitoring(self.topology, self.settings, work_dir, rules=self.rules, external_url=self.external_url,
                          journal=journal)

    def describe(self) -> str:
        if self.external_url is not None:
            return f"monitoring: the Prometheus at {self.external_url} ({len(self.alerts.names)} alerting rules)"
        files = ", ".join(str(p) for p in self.rules.files) if self.rules else "no rule files"
        return (f"monitoring: Prometheus on {self.alerts.url}, scrape every {self.alerts.scrape_interval_s:g}s, "
                f"{len(self.alerts.names)} alerts from {files}")


def _check_url(url: str, allow_hosts: Iterable[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--prometheus-url {url!r} is not an http(s)://host[:port] URL")
    check_host(parts.hostname, allow_hosts, "monitoring queries (--prometheus-url)")
    return url.rstrip("/")


def plan_monitoring(topology: Topology, settings: HarnessSettings, *, enabled: bool | None = None,
                    rule_files: Iterable[Path] = (), external_url: str | None = None,
                    allow_hosts: Iterable[str] = ()) -> MonitoringPlan | None:
    """The command's monitoring, every input checked; None when it runs without monitoring."""
    files = tuple(rule_files)
    if external_url is not None:
        if enabled is False:
            raise UsageError("--prometheus-url and --no-monitoring contradict each other")
        if files:
            raise UsageError("--alert-rules goes with a Prometheus the harness starts; the one at "
                             "--prometheus-url evaluates its own rules")
        url = _check_url(external_url, allow_hosts)
        alerts = Monitoring(topology, settings, settings.state_dir / "prometheus", external_url=url)
        try:
            alerts.connect_external()  # unreachable: PrometheusError naming --prometheus-url, exit 3
        finally:
            alerts.client.close()
        return MonitoringPlan(topology, settings, None, url, None, alerts)
    if files and enabled is False:
        raise UsageError("--alert-rules and --no-monitoring contradict each other")
    if not (enabled if enabled is not None else (topology.monitoring.enabled or bool(files))):
        return None
    rules = load_rules(list(files or topology.monitoring.rules))  # ConfigError file:line, exit 2
    find_binary(settings.prometheus_bin)  # missing: PrometheusError with the fix, exit 3
    promtool = find_binary(settings.prometheus_bin, "promtool")
    check_rules(rules, promtool)  # PromQL and template errors: ConfigError file:line
    alerts = Monitoring(topology, settings, settings.state_dir / "prometheus", rules=rules)
    alerts.client.close()
    return MonitoringPlan(topology, settings, rules, None, promtool, alerts)
