"""What the harness's Prometheus scrapes: every service directly, Toxiproxy, and the HTTP fault proxy when routed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from core.topology import DEFAULT_TOPOLOGY, load_topology
from monitoring.config import PrometheusConfig, render, targets_for


def test_monitoring_config_targets_follow_the_topology_and_offset() -> None:
    """Services at their own (offset) ports, then Toxiproxy's API; roles tell the system from the harness."""
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(100)
    plain = replace(topology, edges=tuple(replace(e, http_proxy_port=None) for e in topology.edges))
    targets = {t.job: t for t in targets_for(plain, 100)}
    assert targets["gateway"].address == "127.0.0.1:8100" and targets["gateway"].role == "service"
    assert targets["toxiproxy"].address == "127.0.0.1:8574" and targets["toxiproxy"].role == "infrastructure"
    assert "http-fault-proxy" not in targets
    routed = {t.job: t for t in targets_for(topology, 100)}
    if any(e.http_proxy_port for e in topology.edges):
        assert routed["http-fault-proxy"].address == "127.0.0.1:8575"


def test_monitoring_config_render_sets_intervals_rules_and_jobs(tmp_path: Path) -> None:
    """prometheus.yml scrapes and evaluates at the one interval, loads the rules, one job per target."""
    topology = load_topology(DEFAULT_TOPOLOGY)
    config = PrometheusConfig("127.0.0.1", 9090, 0.5, targets_for(topology, 0), (tmp_path / "r.yml",))
    data = yaml.safe_load(render(config))
    assert data["global"]["scrape_interval"] == data["global"]["evaluation_interval"] == "500ms"
    assert data["global"]["scrape_timeout"] == "500ms"
    assert data["rule_files"] == [str(tmp_path / "r.yml")]
    jobs = {j["job_name"]: j for j in data["scrape_configs"]}
    assert jobs["llm"]["static_configs"][0] == {"targets": ["127.0.0.1:8002"], "labels": {"harness_role": "service"}}
    assert config.url == "http://127.0.0.1:9090"
