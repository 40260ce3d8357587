"""Steps that break things and put them back, all through the scenario's fault session.

Every fault a step injects is reverted when the scenario ends, whatever happens; the steps that
"heal", "resume" or "restart" revert the matching fault early (or restart a service outright).
"""

from __future__ import annotations

import time
from dataclasses import replace

from faults.base import FaultSpec
from faults.network_specs import Blackhole, Flap, Latency, LimitData, Partition, ResetPeer
from faults.service import Kill, Pause, Restart, Stop

from ..context import RunContext
from ..preview import PreviewContext, fault_preview
from ..prometheus import baseline, parse, scrape
from ..vocabulary import PlanItem, PlanKind, Vocabulary

steps = Vocabulary()
_NAME = r'"(?P<target>[\w-]+)"'


def inject(run: RunContext, spec: FaultSpec) -> None:
    scenario = run.current()
    spec = replace(spec, target=run.system.topology.canonical(spec.target))  # aliases name their service
    # Counters before the fault, so "since the fault" assertions can work on differences.
    # A counter that cannot be read now is left out, so a check that needs it is an error later.
    scenario.metrics.pop("fault", None)
    scenario.metrics.pop("fault-calls", None)
    before = baseline(lambda: parse(run.client.metrics()))
    if before is not None:
        scenario.metrics["fault"] = before
    calls_url = run.system.calls_metrics_url()
    calls = baseline(lambda: scrape(calls_url)) if calls_url is not None else None
    if calls is not None:
        scenario.metrics["fault-calls"] = calls
    # The fault counts from the moment we start sending it: its effect may begin before the call returns.
    started = time.monotonic()
    scenario.faults.inject(spec)
    scenario.mark("fault", started)
    scenario.mark("action", started)


def revert(run: RunContext, kind: str, target: str) -> bool:
    """Revert the newest active ``kind`` fault on ``target``; False when there is none."""
    scenario = run.current()
    handle = scenario.active(kind, run.system.topology.canonical(target))
    if handle is None:
        return False
    started = time.monotonic()
    scenario.faults.revert(handle)
    scenario.mark("recovery", started)
    scenario.mark("action", started)
    return True


def _service_spec(target: str, action: str) -> FaultSpec:
    """The fault a service step injects (resume and restart revert one, or restart outright)."""
    kinds: dict[str, type[FaultSpec]] = {"killed": Kill, "stopped": Stop, "paused": Pause}
    return kinds.get(action, Restart)(target)


def _service_preview(context: PreviewContext, target: str | None = None, action: str | None = None,
                     **_: str | None) -> PlanItem:
    item = fault_preview(lambda **g: _service_spec(str(g["target"]), str(g["action"])))(
        context, target=target, action=action)
    if action in ("resumed", "restarted"):
        return PlanItem(PlanKind.REVERT, f"{action}: {context.topology.canonical(str(target))}", spec=item.spec)
    return item


def _latency_spec(target: str, ms: str, jitter: str | None = None) -> FaultSpec:
    return Latency(target, latency_ms=int(ms), jitter_ms=int(jitter or 0))


def _reset_spec(target: str, percent: str, after: str | None = None) -> FaultSpec:
    return ResetPeer(target, probability=float(percent) / 100, timeout_ms=int(after or 0))


def _cut_spec(target: str, kb: str) -> FaultSpec:
    return LimitData(target, bytes=int(float(kb) * 1024))


def _flap_spec(target: str, down: str, up: str, duration: str) -> FaultSpec:
    return Flap(target, down_s=float(down), up_s=float(up), duration_s=float(duration))


def _revert_preview(context: PreviewContext, target: str | None = None, **_: str | None) -> PlanItem:
    return PlanItem(PlanKind.REVERT, f"heal {target}" if target else "remove every fault")


@steps.when(rf"the {_NAME} service is (?P<action>killed|stopped|paused|resumed|restarted)", preview=_service_preview)
def service_action(run: RunContext, target: str, action: str) -> None:
    """the "SERVICE" service is killed|stopped|paused|resumed|restarted"""
    if action in ("killed", "stopped", "paused"):
        inject(run, _service_spec(target, action))
    elif action == "resumed":
        revert(run, "pause", target)
    elif not (revert(run, "kill", target) or revert(run, "stop", target)):
        inject(run, Restart(target))


@steps.when(rf"latency of (?P<ms>\d+) ms(?: with jitter (?P<jitter>\d+) ms)? is added to {_NAME}",
            preview=fault_preview(_latency_spec))
def latency(run: RunContext, ms: str, jitter: str | None, target: str) -> None:
    """latency of N ms [with jitter N ms] is added to "SERVICE" """
    inject(run, _latency_spec(target, ms, jitter))


@steps.when(rf"{_NAME} is partitioned from the gateway", preview=fault_preview(Partition))
def partition(run: RunContext, target: str) -> None:
    """"SERVICE" is partitioned from the gateway"""
    inject(run, Partition(target))


@steps.when(rf"the partition of {_NAME} heals", preview=_revert_preview)
def heal(run: RunContext, target: str) -> None:
    """the partition of "SERVICE" heals"""
    revert(run, "partition", target)


@steps.when(rf"{_NAME} is blackholed", preview=fault_preview(Blackhole))
def blackhole(run: RunContext, target: str) -> None:
    """"SERVICE" is blackholed (connections held, data dropped)"""
    inject(run, Blackhole(target))


@steps.when(rf"{_NAME} resets (?P<percent>\d+(?:\.\d+)?)% of connections(?: after (?P<after>\d+) ms)?",
            preview=fault_preview(_reset_spec))
def resets(run: RunContext, target: str, percent: str, after: str | None) -> None:
    """"SERVICE" resets P% of connections [after N ms] (a hung peer that finally drops the connection)"""
    inject(run, _reset_spec(target, percent, after))


@steps.when(rf"{_NAME} flaps (?P<down>\d+(?:\.\d+)?) s down and (?P<up>\d+(?:\.\d+)?) s up for (?P<duration>\d+(?:\.\d+)?) seconds",
            preview=fault_preview(_flap_spec))
def flaps(run: RunContext, target: str, down: str, up: str, duration: str) -> None:
    """"SERVICE" flaps N s down and N s up for N seconds"""
    inject(run, _flap_spec(target, down, up, duration))


@steps.when(rf"connections to {_NAME} are cut after (?P<kb>\d+(?:\.\d+)?) KB", preview=fault_preview(_cut_spec))
def cut(run: RunContext, target: str, kb: str) -> None:
    """connections to "SERVICE" are cut after N KB (each connection closed mid-answer once N KB passed)"""
    inject(run, _cut_spec(target, kb))


@steps.when(r"all faults are removed", preview=_revert_preview)
def remove_all(run: RunContext) -> None:
    """all faults are removed"""
    run.current().faults.revert_all()
    run.current().mark("recovery")
    run.current().mark("action")
