"""What the harness's Prometheus scrapes and evaluates: targets from the topology, ``prometheus.yml`` text.

    topology services  -> job = service name      (gateway, vector-db, llm: their own /metrics, direct,
                                                   not through Toxiproxy, so a fault on an edge never
                                                   blinds monitoring; a dead process reads up == 0)
    Toxiproxy API      -> job = toxiproxy         (started with -proxy-metrics -runtime-metrics)
    HTTP fault proxy   -> job = http-fault-proxy  (its control port, when an edge has an HTTP route)

Every target carries ``harness_role`` (``service`` or ``infrastructure``), so rules and queries can tell
the system from the harness's own parts. One interval serves scraping and rule evaluation: an alert's
delay is then ``for:`` plus at most one scrape and one evaluation interval, which ``harness bench`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from core.settings import HTTP_FAULT_PROXY_PORT, PROMETHEUS_PORT, TOXIPROXY_API_PORT
from core.topology import Topology

from .rules import format_duration

Role = Literal["service", "infrastructure"]


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str  # host:port
    role: Role
    metrics_path: str = "/metrics"


@dataclass(frozen=True)
class PrometheusConfig:
    """One Prometheus server for one system: where it listens, what it scrapes, which rules it loads."""

    host: str
    port: int
    scrape_interval_s: float
    targets: tuple[ScrapeTarget, ...]
    rule_files: tuple[Path, ...]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def evaluation_interval_s(self) -> float:
        return self.scrape_interval_s


def prometheus_port(port_offset: int = 0) -> int:
    return PROMETHEUS_PORT + port_offset


def targets_for(topology: Topology, port_offset: int) -> tuple[ScrapeTarget, ...]:
    """The system's services, then Toxiproxy, then the HTTP fault proxy when the topology routes HTTP."""
    host = topology.host
    targets = [ScrapeTarget(s.name, f"{host}:{s.port}", "service") for s in topology.start_order()]
    targets.append(ScrapeTarget("toxiproxy", f"{host}:{TOXIPROXY_API_PORT + port_offset}", "infrastructure"))
    if any(getattr(edge, "http_proxy_port", None) is not None for edge in topology.edges):
        targets.append(ScrapeTarget("http-fault-proxy", f"{host}:{HTTP_FAULT_PROXY_PORT + port_offset}",
                                    "infrastructure"))
    return tuple(targets)


def render(config: PrometheusConfig) -> str:
    """``prometheus.yml`` for ``config``: global intervals, the rule files, one job per target."""
    interval = format_duration(config.scrape_interval_s)
    document = {
        "global": {
            "scrape_interval": interval,
            # A scrape may take the whole interval (a paused process answers nothing): up == 0 then.
            "scrape_timeout": interval,
            "evaluation_interval": interval,
            "external_labels": {"harness": "rag-chaos-harness"},
        },
        "rule_files": [str(path) for path in config.rule_files],
        "scrape_configs": [
            {
                "job_name": target.job,
                "metrics_path": target.metrics_path,
                "static_configs": [{"targets": [target.address], "labels": {"harness_role": target.role}}],
            }
            for target in config.targets
        ],
    }
    header = "# Written by the harness (monitoring/config.py) for one run; edits are overwritten.\n"
    return header + yaml.safe_dump(document, sort_keys=False)
