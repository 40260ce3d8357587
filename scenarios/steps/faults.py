"""Steps that break things and put them back, all through the scenario's fault session.

Every fault a step injects is reverted when the scenario ends, whatever happens; the steps that
"heal", "resume" or "restart" revert the matching fault early (or restart a service outright).
"""

from __future__ import annotations

import time

from faults.base import FaultSpec
from faults.network import Blackhole, Flap, Latency, Partition, ResetPeer
from faults.service import Kill, Pause, Restart, Stop

from ..context import RunContext
from ..prometheus import scrape
from ..vocabulary import Vocabulary

steps = Vocabulary()
_NAME = r'"(?P<target>[\w-]+)"'


def inject(run: RunContext, spec: FaultSpec) -> None:
    scenario = run.current()
    # Counters before the fault, so "since the fault" assertions can work on differences.
    scenario.metrics["fault"] = scrape(run.system.entry_url() + "/metrics")
    # The fault counts from the moment we start sending it: its effect may begin before the call returns.
    started = time.monotonic()
    scenario.faults.inject(spec)
    scenario.mark("fault", started)
    scenario.mark("action", started)


def revert(run: RunContext, kind: str, target: str) -> bool:
    """Revert the newest active ``kind`` fault on ``target``; False when there is none."""
    scenario = run.current()
    handle = scenario.active(kind, target)
    if handle is None:
        return False
    started = time.monotonic()
    scenario.faults.revert(handle)
    scenario.mark("recovery", started)
    scenario.mark("action", started)
    return True


@steps.when(rf"the {_NAME} service is (?P<action>killed|stopped|paused|resumed|restarted)")
def service_action(run: RunContext, target: str, action: str) -> None:
    """the "SERVICE" service is killed|stopped|paused|resumed|restarted"""
    if action == "killed":
        inject(run, Kill(target))
    elif action == "stopped":
        inject(run, Stop(target))
    elif action == "paused":
        inject(run, Pause(target))
    elif action == "resumed":
        revert(run, "pause", target)
    elif not (revert(run, "kill", target) or revert(run, "stop", target)):
        inject(run, Restart(target))


@steps.when(rf"latency of (?P<ms>\d+) ms(?: with jitter (?P<jitter>\d+) ms)? is added to {_NAME}")
def latency(run: RunContext, ms: str, jitter: str | None, target: str) -> None:
    """latency of N ms [with jitter N ms] is added to "SERVICE" """
    inject(run, Latency(target, latency_ms=int(ms), jitter_ms=int(jitter or 0)))


@steps.when(rf"{_NAME} is partitioned from the gateway")
def partition(run: RunContext, target: str) -> None:
    """"SERVICE" is partitioned from the gateway"""
    inject(run, Partition(target))


@steps.when(rf"the partition of {_NAME} heals")
def heal(run: RunContext, target: str) -> None:
    """the partition of "SERVICE" heals"""
    revert(run, "partition", target)


@steps.when(rf"{_NAME} is blackholed")
def blackhole(run: RunContext, target: str) -> None:
    """"SERVICE" is blackholed (connections held, data dropped)"""
    inject(run, Blackhole(target))


@steps.when(rf"{_NAME} resets (?P<percent>\d+(?:\.\d+)?)% of connections")
def resets(run: RunContext, target: str, percent: str) -> None:
    """"SERVICE" resets P% of connections"""
    inject(run, ResetPeer(target, probability=float(percent) / 100))


@steps.when(rf"{_NAME} flaps (?P<down>\d+(?:\.\d+)?) s down and (?P<up>\d+(?:\.\d+)?) s up for (?P<duration>\d+(?:\.\d+)?) seconds")
def flaps(run: RunContext, target: str, down: str, up: str, duration: str) -> None:
    """"SERVICE" flaps N s down and N s up for N seconds"""
    inject(run, Flap(target, down_s=float(down), up_s=float(up), duration_s=float(duration)))


@steps.when(r"all faults are removed")
def remove_all(run: RunContext) -> None:
    """all faults are removed"""
    run.current().faults.revert_all()
    run.current().mark("recovery")
    run.current().mark("action")
