"""The real Prometheus (Debian's package) watching the real reference system, started and stopped by the harness.

The system runs as local processes behind the real Toxiproxy (``ManagedSystem``); faults go through
the fault session as in a scenario. ``for:`` is shrunk to 1 s through settings
(``alert_for_override_s``), never by sleeping, so an alert's whole life fits in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import PrometheusError
from core.journal import Journal
from core.processes import is_running
from core.settings import PROJECT_ROOT, HarnessSettings
from core.state import StateFile
from core.topology import DEFAULT_TOPOLOGY, load_topology
from faults.network_specs import Partition
from faults.session import FaultSession
from monitoring.config import prometheus_port
from monitoring.plan import plan_monitoring
from monitoring.session import Monitoring, stop_recorded
from system import ManagedSystem
from tests.integration.conftest import FAST_GATEWAY, FAST_LLM
from tests.integration.monitoring.monitoring_lab import free_offset
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOR_S = 1.0


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedSystem]:
    """The reference system and Toxiproxy, started by the harness and stopped by PID afterwards."""
    offset = free_offset()
    settings = replace(HarnessSettings.from_env({}).with_overrides(
        port_offset=offset, state_dir=tmp_path_factory.mktemp("monitoring-state")), alert_for_override_s=FOR_S)
    topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(offset)
    managed = ManagedSystem(topology, settings, overrides={"gateway": FAST_GATEWAY, "llm": FAST_LLM})
    managed.up()
    try:
        yield managed
    finally:
        managed.down()
        managed.close()


def _monitoring(system: ManagedSystem, work: Path, journal: Journal | None = None) -> Monitoring:
    plan = plan_monitoring(system.topology, system.settings)
    assert plan is not None, "the reference topology turns monitoring on"
    return plan.build(work, journal)


def test_monitoring_prometheus_scrapes_the_real_services(system: ManagedSystem, tmp_path: Path) -> None:
    """Every service and Toxiproxy's /metrics are scraped (up), the rules are loaded, data lands in the folder."""
    monitoring = _monitoring(system, tmp_path)
    try:
        monitoring.start()
        monitoring.wait_scraped()
        assert monitoring.url.endswith(f":{prometheus_port(system.settings.port_offset)}")

        def all_up() -> dict[str, str] | None:
            health = {t.job: t.health for t in monitoring.client.targets()}
            return health if {"gateway", "vector-db", "llm", "toxiproxy"} <= {j for j, h in health.items() if h == "up"} else None

        wait_until(all_up, 15.0, "gateway, vector-db, llm and toxiproxy scraped")
        modes = monitoring.client.query('chatbot_mode{job="gateway"}')
        assert {s.labels["mode"]: s.value for s in modes}["normal"] == 1.0
        assert monitoring.client.query('sum(go_goroutines{job="toxiproxy"})')[0].value > 0, "-runtime-metrics is on"
        rules = {r.name: r for r in monitoring.client.rules()}
        assert set(rules) == monitoring.names and all(r.health in ("ok", "unknown") for r in rules.values())
        assert rules["ChatbotDegraded"].for_s == FOR_S, "the for: override reached the copies Prometheus loaded"
        assert (tmp_path / "data").is_dir() and (tmp_path / "prometheus.yml").is_file()
    finally:
        monitoring.stop()
    assert not StateFile(system.settings.state_dir / "prometheus.json").load()


def test_alert_partition_fires_and_resolves_on_the_timeline(system: ManagedSystem, tmp_path: Path) -> None:
    """A real Toxiproxy partition of the LLM makes the probe alert fire within for: + scrape + evaluation
    (plus the probe's own detection), and the heal resolves it; the journal records each change."""
    journal = Journal()
    monitoring = _monitoring(system, tmp_path, journal)
    name = "ChatbotDependencyProbeFailing"
    try:
        monitoring.start()
        monitoring.wait_scraped()
        wait_until(lambda: not monitoring.timeline.active(), 30.0, "no alert active before the fault")
        with FaultSession(system.injectors(), journal) as faults:
            injected = time.monotonic()
            handle = faults.inject(Partition("llm"))

            def fired() -> float | None:
                return next((i.fired_at for i in monitoring.timeline.intervals(injected)
                             if i.name == name and i.fired_at is not None and i.labels.get("dependency") == "llm"), None)

            # Expected: probes fail at once (refused), 2 in a row at 0.2 s make the gauge 0, then
            # at most one scrape (1 s) and one evaluation (1 s) plus for: (1 s), plus the poll.
            bound = 0.5 + 2 * monitoring.scrape_interval_s + FOR_S + 2.0
            fired_at = wait_until(fired, bound + 5.0, f"{name} firing")
            assert fired_at - injected <= bound, f"expected <= {bound:.1f}s, observed {fired_at - injected:.2f}s"
            healed = time.monotonic()
            faults.revert(handle)

        def resolved() -> float | None:
            intervals = [i for i in monitoring.timeline.intervals(injected) if i.name == name and i.fired_at is not None]
            return intervals[0].resolved_at if intervals and intervals[0].resolved_at is not None else None

        resolved_at = wait_until(resolved, 15.0, f"{name} resolved after the heal")
        assert 0 < resolved_at - healed <= 2 * monitoring.scrape_interval_s + 3.0, \
            f"expected <= {2 * monitoring.scrape_interval_s + 3.0:.1f}s, observed {resolved_at - healed:.2f}s"
        states = [e.data["state"] for e in journal.of_type("alert_changed") if e.data["alert"] == name]
        assert states[:3] == ["pending", "firing", "inactive"] or states[:2] == ["firing", "inactive"]
    finally:
        monitoring.stop()


def test_monitoring_crashed_run_prometheus_is_stopped_by_the_next(system: ManagedSystem, tmp_path: Path) -> None:
    """A Prometheus a crashed run left (another process that died without stopping it) is found through
    the state file and stopped by PID by the next start."""
    crashed = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from core.settings import HarnessSettings\n"
        "from core.topology import DEFAULT_TOPOLOGY, load_topology\n"
        "from monitoring.plan import plan_monitoring\n"
        "settings = HarnessSettings.from_env()\n"
        "topology = load_topology(DEFAULT_TOPOLOGY).with_port_offset(settings.port_offset)\n"
        "plan_monitoring(topology, settings).build(Path(sys.argv[1])).start()\n"
        "os._exit(0)  # a crash: nothing stopped, nothing cleaned\n"
    )
    env = {**os.environ, "HARNESS_STATE_DIR": str(system.settings.state_dir),
           "HARNESS_PORT_OFFSET": str(system.settings.port_offset), "HARNESS_ALERT_FOR_S": str(FOR_S)}
    subprocess.run([sys.executable, "-c", crashed, str(tmp_path / "crashed")], env=env, cwd=PROJECT_ROOT,
                   check=True, timeout=60)
    record = StateFile(system.settings.state_dir / "prometheus.json").load()["prometheus"]
    assert is_running(record), "the crashed run left its Prometheus running"
    second = _monitoring(system, tmp_path / "second")
    try:
        actions = second.start()
        assert actions == [f"stopped prometheus (pid {record.pid}) left running"]
        assert not is_running(record)
        assert second.client.ready()
    finally:
        second.stop()
    assert stop_recorded(system.settings) == [], "stop() forgot it: nothing left to stop"


def test_monitoring_prometheus_dying_mid_run_is_an_error(system: ManagedSystem, tmp_path: Path) -> None:
    """A Prometheus killed mid-run makes the next check raise PrometheusError (exit 3), never read as quiet."""
    monitoring = _monitoring(system, tmp_path)
    try:
        monitoring.start()
        monitoring.wait_scraped()
        monitoring.check()
        record = StateFile(system.settings.state_dir / "prometheus.json").load()["prometheus"]
        os.kill(record.pid, signal.SIGKILL)
        wait_until(lambda: not is_running(record), 5.0, "prometheus gone")
        with pytest.raises(PrometheusError) as caught:
            monitoring.check()
        assert caught.value.exit_code == 3 and "no longer running" in str(caught.value)
        with pytest.raises(PrometheusError):
            monitoring.client.alerts()
    finally:
        monitoring.stop()


def test_monitoring_existing_prometheus_is_used_and_left_running(system: ManagedSystem, tmp_path: Path) -> None:
    """--prometheus-url: the alert names come from that server's rules, its alerts reach the timeline,
    and stopping the run's monitoring leaves that server running."""
    existing = _monitoring(system, tmp_path / "existing")
    try:
        existing.start()
        existing.wait_scraped()
        plan = plan_monitoring(system.topology, system.settings, external_url=existing.url)
        assert plan is not None and plan.alerts.names == existing.names
        assert plan.alerts.alert_for("ChatbotDegraded") == FOR_S
        external = plan.build(tmp_path / "unused")
        external.start()
        try:
            external.check()
            external.timeline.poll_once()
        finally:
            external.stop()
        assert existing.client.ready(), "the existing Prometheus is not ours to stop"
        assert not (tmp_path / "unused").exists(), "nothing was written for a Prometheus we did not start"
    finally:
        existing.stop()
