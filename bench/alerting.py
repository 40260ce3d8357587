"""Monitoring in ``harness bench``: how fast the shipped alerts fire, and what monitoring costs a run.

    fault -> alert   on the bench's running system, with its own Prometheus and the shipped rules
                     (their real for:): kill vector-db under load -> ChatbotServiceDown,
                     ChatbotBreakerOpen, ChatbotDegraded. The time from the injection to each alert
                     firing, as a ratio of for: + one scrape + one evaluation interval (the rule's promise).
    cost             the same scenario run twice by a child 'harness run', --no-monitoring then
                     --monitoring: its wall time (results.json) and the CPU of the whole process tree
                     (getrusage of waited-for children: the harness, services, Locust, Prometheus).

These alerts are chosen because their expression turns true the moment the fault lands (a refused
scrape) or within a second under load (the breaker, and the mode that follows it), so the ratio
measures the monitoring's own delay, not the system's detection. (A partition of the LLM is not
used: the gateway's probe may mark it down before its breaker has seen enough failures, and then
the breaker never opens; the suite's scenarios show that race.)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_ROOT, HarnessSettings
from core.topology import Topology
from faults.base import FaultSpec
from faults.service import Kill
from faults.session import FaultSession
from monitoring.plan import plan_monitoring

from .locust_load import Load
from .resilience import wait_for

# (fault, target, spec, the alerts it must raise). One kill raises three alerts whose expressions turn
# true at once or within a second under load: a refused scrape, the breaker opening, the mode degrading.
CASES: tuple[tuple[str, str, Callable[[str], FaultSpec], tuple[str, ...]], ...] = (
    ("kill", "vector-db", Kill, ("ChatbotServiceDown", "ChatbotBreakerOpen", "ChatbotDegraded")),
)


@dataclass(frozen=True)
class AlertDelay:
    fault: str
    target: str
    alert: str
    delay_s: float | None  # injection -> firing; None when it never fired within the bound
    promised_s: float  # for: + scrape interval + evaluation interval
    resolve_s: float | None  # revert -> resolved


@dataclass(frozen=True)
class RunCost:
    monitoring: bool
    scenario_s: float | None  # the scenario's own duration (results.json)
    wall_s: float  # the whole child run, from outside
    cpu_s: float  # user + system CPU of the child's whole process tree


def alert_delays(topology: Topology, settings: HarnessSettings, entry_url: str, faults: FaultSession, users: int,
                 work: Path, say: Callable[[str], None]) -> list[AlertDelay]:
    """Each case of ``CASES`` on the running system, under a steady load, with a fresh Prometheus."""
    plan = plan_monitoring(topology, settings, enabled=True)
    assert plan is not None
    monitoring = plan.build(work / "prometheus")
    out: list[AlertDelay] = []
    try:
        monitoring.start()
        monitoring.wait_scraped()
        with Load(entry_url, work / "records", users=users, wait_s=(0.05, 0.2), max_duration_s=600.0):
            for fault, target, spec, alerts in CASES:
                say(f"alerting: {fault} {target} -> {', '.join(alerts)}")
                wait_for(lambda: not monitoring.timeline.active(), 120.0, "no alert active before the fault")
                injected = time.monotonic()
                handle = faults.inject(spec(target))

                def fired(name: str, start: float = injected) -> float | None:
                    return next((i.fired_at for i in monitoring.timeline.intervals(start)
                                 if i.name == name and i.fired_at is not None and i.fired_at >= start), None)

                promised = {a: monitoring.alert_for(a) + 2 * monitoring.scrape_interval_s for a in alerts}
                deadline = injected + 3 * max(promised.values()) + 10.0
                while any(fired(a) is None for a in alerts) and time.monotonic() < deadline:
                    monitoring.check()
                    time.sleep(0.05)
                fired_at = {a: fired(a) for a in alerts}
                reverted = time.monotonic()
                faults.revert(handle)
                resolved_at: dict[str, float] = {}
                deadline = reverted + 90.0
                while len(resolved_at) < len(alerts) and time.monotonic() < deadline:
                    for a in alerts:
                        done = [i for i in monitoring.timeline.intervals(injected) if i.name == a and i.fired_at]
                        if a not in resolved_at and done and all(i.resolved_at is not None for i in done):
                            resolved_at[a] = max(i.resolved_at or 0.0 for i in done)
                    time.sleep(0.1)
                for a in alerts:
                    at, back = fired_at[a], resolved_at.get(a)
                    out.append(AlertDelay(fault, target, a, None if at is None else at - injected, promised[a],
                                          None if back is None else back - reverted))
    finally:
        monitoring.stop()
    return out


# The scenario both cost runs execute: fixed-length, no alert steps (it must run without monitoring too).
COST_FEATURE = """\
Feature: The cost of monitoring
  Scenario: Normal mode under steady load, with and without monitoring
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When 20 seconds pass
    Then at least 99% of requests succeeded since the start
"""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cost(out_dir: Path, flags: Sequence[str], monitoring: bool, timeout_s: float,
             paths: Sequence[Path] = ()) -> RunCost:
    """``harness run`` (of ``COST_FEATURE`` by default) in a child with or without monitoring: scenario
    time, wall time, the CPU of its whole process tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not paths:
        feature = out_dir.parent / "monitoring_cost.feature"
        feature.write_text(COST_FEATURE)
        paths = (feature,)
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", *map(str, paths), "--out", str(out_dir),
               "--seed", "1", "--monitoring" if monitoring else "--no-monitoring", *flags]
    cpu, started = _child_cpu(), time.monotonic()
    with (out_dir / "harness-run.log").open("wb") as log:
        subprocess.run(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                       timeout=timeout_s, check=False)
    wall, cpu = time.monotonic() - started, _child_cpu() - cpu
    scenario_s = None
    try:
        data = json.loads((out_dir / "results.json").read_text())
        scenario_s = sum(float(s["duration_s"]) for s in data["scenarios"]) or None
    except (OSError, ValueError, KeyError):
        pass
    return RunCost(monitoring, scenario_s, wall, cpu)
