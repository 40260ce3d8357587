"""``Monitoring``: one Prometheus watching one system, owned by the CLI or the runner beside the system.

    start():  stop a Prometheus a crashed run left (state file) -> write prometheus.yml and the rule
              copies into the work folder -> start the server on 127.0.0.1:9090+offset -> wait until
              it is ready -> start the alert timeline
    wait_scraped(): until every service of the system was scraped once (call it once the system is up)
              (with --prometheus-url: check that URL answers, read its rules; start nothing)
    stop():   the timeline, then the server by PID; the state file forgets it
    detach(): the timeline only; the server keeps running, recorded, for 'harness down' to stop

The steps read alerts through ``client`` and ``timeline``; ``alert_for`` and ``names`` answer the
checks made before a run starts (unknown alert names, bounds shorter than a rule's ``for:``).
"""

from __future__ import annotations

import time
from pathlib import Path

from core.errors import PrometheusError
from core.journal import Journal
from core.processes import is_running
from core.settings import HarnessSettings
from core.state import StateFile
from core.topology import Topology

from .client import PrometheusClient
from .config import PrometheusConfig, prometheus_port, render, targets_for
from .rules import RuleSet, with_for_override, write_for_run
from .server import SERVICE_NAME, RunningServer, ServerConfig, find_binary, start_server, stop_server
from .timeline import AlertTimeline

_SCRAPE_WAIT_S = 10.0


def _state(settings: HarnessSettings) -> StateFile:
    return StateFile(settings.state_dir / "prometheus.json")


def stop_recorded(settings: HarnessSettings) -> list[str]:
    """Stop the Prometheus the state file records (a crashed run's, or 'harness up --monitoring''s)."""
    state = _state(settings)
    record = state.load().get(SERVICE_NAME)
    if record is None:
        return []
    running = is_running(record)
    stop_server(record, settings.stop_grace_s)
    state.save({})
    return [f"stopped prometheus (pid {record.pid}) left running"] if running else []


def recorded_running(settings: HarnessSettings) -> bool:
    record = _state(settings).load().get(SERVICE_NAME)
    return record is not None and is_running(record)


class Monitoring:
    def __init__(self, topology: Topology, settings: HarnessSettings, work_dir: Path, *,
                 rules: RuleSet | None = None, external_url: str | None = None,
                 scrape_interval_s: float | None = None, journal: Journal | None = None) -> None:
        if (rules is None) == (external_url is None):
            raise ValueError("give the rules of a Prometheus to start, or the URL of an existing one")
        self.topology, self.settings, self.work_dir = topology, settings, work_dir
        self.external_url = external_url.rstrip("/") if external_url else None
        self.scrape_interval_s = scrape_interval_s or topology.monitoring.scrape_interval_s
        self.rules = None if rules is None else with_for_override(rules, settings.alert_for_override_s)
        self.url = self.external_url or f"http://{topology.host}:{prometheus_port(settings.port_offset)}"
        source = f"--prometheus-url {self.external_url}" if self.external_url else "Prometheus"
        self.client = PrometheusClient(self.url, source=source)
        self.timeline = AlertTimeline(self.client, journal, poll_s=settings.alert_poll_s,
                                      max_silence_s=max(5.0, 3 * self.scrape_interval_s))
        self._for: dict[str, float] = {}
        if self.rules is not None:
            for rule in self.rules.alerts:
                self._for[rule.name] = max(self._for.get(rule.name, 0.0), rule.for_s)
        self._server: RunningServer | None = None
        self._detached: RunningServer | None = None

    @property
    def owned(self) -> bool:
        return self.external_url is None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._for)

    def alert_for(self, name: str) -> float:
        """The longest ``for:`` of the rules named ``name`` (as Prometheus holds them)."""
        return self._for[name]

    def where(self) -> str:
        """Where the alert names come from, for error messages."""
        if self.rules is None:
            return f"the rules of --prometheus-url {self.external_url}"
        return ", ".join(str(p) for p in self.rules.files) or "no rule files"

    # -- lifecycle ---------------------------------------------------------------------------------

    def connect_external(self) -> None:
        """Check an existing Prometheus answers and read its alerting rules (PrometheusError names the flag)."""
        self.client.version()
        self._for = {}
        for rule in self.client.rules():
            self._for[rule.name] = max(self._for.get(rule.name, 0.0), rule.for_s)

    def start(self) -> list[str]:
        """Start (or connect to) Prometheus and the alert timeline; say what stale state was cleaned."""
        if not self.owned:
            self.connect_external()
            self.timeline.start()
            return []
        assert self.rules is not None
        actions = stop_recorded(self.settings)
        rule_files = write_for_run(self.rules, self.work_dir / "rules", self.settings.alert_for_override_s)
        config = PrometheusConfig(self.topology.host, prometheus_port(self.settings.port_offset),
                                  self.scrape_interval_s, targets_for(self.topology, self.settings.port_offset),
                                  rule_files)
        config_file = self.work_dir / "prometheus.yml"
        config_file.write_text(render(config), encoding="utf-8")
        server_config = ServerConfig(find_binary(self.settings.prometheus_bin), config_file, self.work_dir / "data",
                                     self.work_dir / "prometheus.log", config.host, config.port,
                                     stop_grace_s=self.settings.stop_grace_s)
        self._server = start_server(server_config, on_spawn=lambda record: _state(self.settings).save({SERVICE_NAME: record}))
        _state(self.settings).save({SERVICE_NAME: self._server.record})
        self.timeline.start()
        return actions

    def wait_scraped(self) -> None:
        """Until every service was scraped once (bounded): alerts before that would judge nothing.

        Prometheus hands static targets to its scrapers up to 5 s after it starts (its discovery
        manager batches updates), so the runner starts Prometheus before the system and calls this
        after: the two waits overlap.
        """
        services = set(self.topology.services)
        deadline = time.monotonic() + _SCRAPE_WAIT_S
        while time.monotonic() < deadline:
            up = {t.job for t in self.client.targets() if t.health == "up"}
            if services <= up:
                return
            time.sleep(0.1)

    def check(self) -> None:
        """Raise PrometheusError when the server this object started died, or the timeline went blind."""
        if self._server is not None and not is_running(self._server.record):
            raise PrometheusError(f"prometheus (pid {self._server.record.pid}) is no longer running "
                                  f"(log: {self._server.config.log_path})")
        self.timeline.check()

    def stop(self) -> None:
        """Stop the timeline and the server this object started (idempotent)."""
        self.timeline.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
            _state(self.settings).save({})
        self.client.close()

    def detach(self) -> None:
        """Stop reading; leave the server running and recorded (``harness down`` stops it)."""
        self.timeline.stop()
        self._detached, self._server = self._server, None  # the handle lives on with this object
        self.client.close()
