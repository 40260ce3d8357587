"""A command's monitoring decided before anything starts: flags, topology key, and their bad combinations."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ConfigError, ExitCode, PrometheusError, UsageError
from core.settings import HarnessSettings
from core.topology import DEFAULT_TOPOLOGY, MonitoringSpec, load_topology
from monitoring.plan import plan_monitoring


def _settings(tmp_path: Path) -> HarnessSettings:
    return HarnessSettings.from_env({}).with_overrides(state_dir=tmp_path / "state")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_monitoring_plan_follows_the_topology_key_and_flags(tmp_path: Path) -> None:
    """monitoring.enabled turns it on, --no-monitoring off; --alert-rules replaces the topology's rules."""
    topology = load_topology(DEFAULT_TOPOLOGY)
    assert topology.monitoring.enabled and topology.monitoring.rules
    on = plan_monitoring(topology, _settings(tmp_path))
    assert on is not None and "ChatbotDegraded" in on.alerts.names
    assert plan_monitoring(topology, _settings(tmp_path), enabled=False) is None
    off = replace(topology, monitoring=MonitoringSpec())
    assert plan_monitoring(off, _settings(tmp_path)) is None
    flawed = DEFAULT_TOPOLOGY.parent / "monitoring" / "flawed" / "alerts.rules.yml"
    chosen = plan_monitoring(off, _settings(tmp_path), rule_files=[flawed])
    assert chosen is not None and "ChatbotVectorDbSlow" in chosen.alerts.names


def test_monitoring_plan_bad_rule_file_names_file_and_line(tmp_path: Path) -> None:
    """A rule file that does not parse stops the command with file:line (exit 2)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n")
    with pytest.raises(ConfigError) as caught:
        plan_monitoring(load_topology(DEFAULT_TOPOLOGY), _settings(tmp_path), rule_files=[bad])
    assert str(caught.value).startswith(f"{bad}:5: ") and caught.value.exit_code == ExitCode.USAGE


def test_monitoring_plan_unreachable_prometheus_url_is_infrastructure(tmp_path: Path) -> None:
    """--prometheus-url where nothing listens: a one-line PrometheusError naming the flag, exit 3."""
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(PrometheusError) as caught:
        plan_monitoring(load_topology(DEFAULT_TOPOLOGY), _settings(tmp_path), external_url=url)
    assert f"--prometheus-url {url}" in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == ExitCode.INFRASTRUCTURE


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"external_url": "http://10.1.2.3:9090"}, "refusing"),
    ({"external_url": "prometheus:9090"}, "not an http(s)://host[:port] URL"),
    ({"external_url": "http://127.0.0.1:9", "enabled": False}, "contradict"),
    ({"external_url": "http://127.0.0.1:9", "rule_files": [Path("r.yml")]}, "--alert-rules"),
    ({"rule_files": [Path("r.yml")], "enabled": False}, "contradict"),
])
def test_monitoring_plan_refuses_bad_flag_combinations(tmp_path: Path, kwargs: dict[str, object], words: str) -> None:
    """Non-loopback or malformed URLs and contradicting flags are usage errors (exit 2), nothing contacted."""
    with pytest.raises(UsageError) as caught:
        plan_monitoring(load_topology(DEFAULT_TOPOLOGY), _settings(tmp_path), **kwargs)  # type: ignore[arg-type]
    assert words in str(caught.value)
