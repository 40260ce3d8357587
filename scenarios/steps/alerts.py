"""Steps about alerts: what the system's monitoring (a real Prometheus, ``monitoring/``) would have told people.

    Given no alert is firing                                          (quiet monitoring before the load)
    Then the alert "NAME" fires within N seconds                      (of the last fault)
    Then the alert "NAME" resolves within N seconds of the heal       (of the last heal/removal)
    Then no alert fired                                               (since the load started)
    Then the PromQL "EXPR" is below X since the fault|start|...       (every point of a range query)

Alert times come from the alert timeline (``monitoring.timeline``), on the same monotonic clock as
the fault windows. Prometheus that cannot be read mid-scenario raises ``PrometheusError``: the step
is an error (exit 3), never a pass. ``check_alert_steps`` runs before anything starts: an alert name
the loaded rules do not define, a bound shorter than the rule's ``for:``, a PromQL expression that
does not parse, or an alert step without monitoring are ``ConfigError``s naming file:line (exit 2).
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from core.errors import ConfigError, HarnessError, InfrastructureError

from ..assertions import Verdict
from ..context import RunContext
from ..features import PlannedScenario
from ..preview import PreviewContext
from ..vocabulary import PlanItem, PlanKind, Vocabulary
from .observe import since

if TYPE_CHECKING:
    from monitoring.session import Monitoring
    from monitoring.timeline import AlertInterval

steps = Vocabulary()
_NUM = r"\d+(?:\.\d+)?"
_ALERT = r'the alert "(?P<name>[A-Za-z_][A-Za-z0-9_:]*)"'
FIRES = rf"{_ALERT} fires within (?P<seconds>{_NUM}) seconds?"
RESOLVES = rf"{_ALERT} resolves within (?P<seconds>{_NUM}) seconds? of the heal"
NO_ALERT_FIRED = r"no alert fired"
QUIET = r"no alert is firing"
PROMQL = rf'the PromQL "(?P<expr>.+)" is below (?P<value>{_NUM}) since the (?P<event>fault|start|load rose|breaker opened|recovery)'
_QUIET_TIMEOUT_S = 90.0
_POLL_S = 0.1


def _monitoring(run: RunContext) -> Monitoring:
    monitoring = run.monitoring
    if monitoring is None:
        raise HarnessError("alert steps need monitoring: run with --monitoring (or monitoring.enabled: true)")
    return monitoring


def _wait(run: RunContext, evaluate: Callable[[float], Verdict | None], until: float) -> Verdict:
    """Re-evaluate until a verdict is final (passed, or a failure that waiting cannot fix: not None from
    ``evaluate`` with passed False is final only at ``until``); Prometheus checked on every round."""
    monitoring = _monitoring(run)
    while True:
        monitoring.check()  # a blind timeline is an error, not a quiet system
        now = time.monotonic()
        verdict = evaluate(now)
        if verdict is not None and (verdict.passed or now >= until):
            run.current().check(verdict)
            return verdict
        run.check_load()
        time.sleep(_POLL_S)


def _named(run: RunContext, name: str) -> list[AlertInterval]:
    return [i for i in _monitoring(run).timeline.intervals() if i.name == name]


def _fault_start(run: RunContext) -> float:
    scenario = run.current()
    return scenario.marks.get("fault", scenario.marks.get("action", scenario.since("start")))


def _bound(context: PreviewContext, seconds: str | None = None, **_: str | None) -> PlanItem:
    return PlanItem(PlanKind.CHECK, "", seconds=float(seconds or 0))


@steps.given(QUIET, preview=lambda context, **_: PlanItem(PlanKind.WAIT, "until no alert is pending or firing",
                                                           seconds=_QUIET_TIMEOUT_S))
def no_alert_is_firing(run: RunContext) -> None:
    """no alert is firing (waits up to 90 s for alerts a previous scenario raised to resolve)"""
    monitoring = _monitoring(run)
    deadline = time.monotonic() + _QUIET_TIMEOUT_S
    while monitoring.timeline.active():
        monitoring.check()
        if time.monotonic() >= deadline:
            names = sorted({dict(key).get("alertname", "?") for key in monitoring.timeline.active()})
            raise InfrastructureError(f"alerts still active after {_QUIET_TIMEOUT_S:g}s: {', '.join(names)}")
        time.sleep(_POLL_S)


@steps.then(FIRES, preview=_bound)
def alert_fires(run: RunContext, name: str, seconds: str) -> None:
    """the alert "NAME" fires within N seconds (of the last fault)"""
    start, bound = _fault_start(run), float(seconds)
    label = f'alert "{name}" fires within {bound:g}s'
    expected = f"firing <= {bound:g}s after the fault (for: {_monitoring(run).alert_for(name):g}s)"

    def evaluate(now: float) -> Verdict:
        intervals = _named(run, name)
        early = [i for i in intervals if i.fired_at is not None and i.fired_at < start
                 and (i.resolved_at is None or i.resolved_at > start)]
        if early:
            return Verdict(label, False, expected, f"already firing {start - (early[0].fired_at or start):.1f}s "
                           "before the fault: the check cannot tell what caused it", start)
        fired = [i for i in intervals if i.fired_at is not None and i.fired_at >= start]
        if fired:
            first = min(fired, key=lambda i: i.fired_at or 0.0)
            at = first.fired_at or start
            note = f", pending after {(first.pending_at or at) - start:.1f}s" if first.pending_at else ""
            return Verdict(label, at - start <= bound, expected, f"fired after {at - start:.1f}s{note}", at,
                           at - start)
        waiting = [i for i in intervals if i.pending_at is not None and i.resolved_at is None]
        state = f"pending for {now - (waiting[0].pending_at or now):.1f}s" if waiting else "never pending"
        return Verdict(label, False, expected, f"not fired after {now - start:.1f}s ({state})", min(now, start + bound))

    _wait(run, evaluate, start + bound)


@steps.then(RESOLVES, preview=_bound)
def alert_resolves(run: RunContext, name: str, seconds: str) -> None:
    """the alert "NAME" resolves within N seconds of the heal (it must have fired since the fault)"""
    scenario = run.current()
    heal, bound = scenario.since("recovery"), float(seconds)
    fault = scenario.marks.get("fault", scenario.since("start"))
    label = f'alert "{name}" resolves within {bound:g}s of the heal'
    expected = f"resolved <= {bound:g}s after the heal"

    def evaluate(now: float) -> Verdict:
        fired = [i for i in _named(run, name) if i.fired_at is not None
                 and (i.resolved_at is None or i.resolved_at >= fault)]
        if not fired:
            return Verdict(label, False, expected, "it never fired after the fault: nothing to resolve", now)
        early = [i for i in fired if i.resolved_at is not None and i.resolved_at < heal]
        if early and all(i.resolved_at is not None for i in fired):
            gap = heal - max(i.resolved_at or heal for i in fired)
            return Verdict(label, False, expected, f"resolved {gap:.1f}s before the heal, while the fault was on",
                           heal - gap)
        still = [i for i in _named(run, name) if i.resolved_at is None]
        if still:
            state = "firing" if any(i.fired_at is not None for i in still) else "pending again"
            return Verdict(label, False, expected, f"still {state} {now - heal:.1f}s after the heal",
                           min(now, heal + bound))
        at = max(i.resolved_at or heal for i in fired)
        return Verdict(label, at - heal <= bound, expected, f"resolved {at - heal:.1f}s after the heal", at, at - heal)

    _wait(run, evaluate, heal + bound)


@steps.then(NO_ALERT_FIRED, preview=lambda context, **_: PlanItem(PlanKind.CHECK, "", seconds=0.0))
def no_alert_fired(run: RunContext) -> None:
    """no alert fired (since the load started; alerts still pending are waited for, up to their for:)"""
    monitoring = _monitoring(run)
    scenario = run.current()
    start = scenario.marks.get("start", scenario.started)
    pending = [i for i in monitoring.timeline.intervals(start) if i.fired_at is None and i.resolved_at is None]
    # A pending alert is not yet a page; it becomes one only if it holds for its for:.
    wait = max((monitoring.alert_for(i.name) for i in pending if i.name in monitoring.names), default=0.0)
    until = time.monotonic() + (wait + 2 * monitoring.scrape_interval_s + 1.0 if pending else 0.0)
    label = "no alert fired"

    def evaluate(now: float) -> Verdict | None:
        intervals = monitoring.timeline.intervals(start)
        # Firing since the start, or still firing now. An alert the previous scenario raised that
        # resolves after the start (monitoring lags the system by a scrape and an evaluation) is no
        # page of this scenario; one that keeps firing is.
        fired = [i for i in intervals if i.fired_at is not None and (i.fired_at >= start or i.resolved_at is None)]
        inherited = sorted({i.name for i in intervals if i.fired_at is not None and i not in fired})
        if fired:
            listed = ", ".join(f"{i.name} after {(i.fired_at or start) - start:.1f}s" for i in fired[:4])
            return Verdict(label, False, "no alert firing since the start", f"fired: {listed}",
                           fired[0].fired_at, float(len(fired)))
        if any(i.resolved_at is None for i in intervals) and now < until:
            return None  # still pending: wait for it to fire or clear
        cleared = [i.name for i in intervals if i.resolved_at is not None and i.fired_at is None]
        note = f" ({len(cleared)} pending that cleared: {', '.join(sorted(set(cleared)))})" if cleared else ""
        still = [i.name for i in intervals if i.resolved_at is None]
        note += f" ({', '.join(sorted(set(still)))} still pending)" if still else ""
        note += f" (fired before the start and resolved since: {', '.join(inherited)})" if inherited else ""
        return Verdict(label, True, "no alert firing since the start", f"none in {now - start:.1f}s{note}", now, 0.0)

    _wait(run, evaluate, until)


@steps.then(PROMQL, preview=lambda context, **_: PlanItem(PlanKind.CHECK, "", seconds=0.0))
def promql_below(run: RunContext, expr: str, value: str, event: str) -> None:
    """the PromQL "EXPR" is below X since the fault|start|load rose|breaker opened|recovery (a range query)"""
    monitoring = _monitoring(run)
    monitoring.check()
    start = since(run, event)
    threshold = float(value)
    offset = time.time() - time.monotonic()  # monotonic -> Unix, for Prometheus's timestamps
    now = time.monotonic()
    series = monitoring.client.query_range(expr, start + offset, now + offset, monitoring.scrape_interval_s)
    points = [(t - offset, v, s.labels) for s in series for t, v in s.points if not math.isnan(v)]
    label = f"PromQL {expr} below {threshold:g} since the {event}"
    if not points:
        run.current().check(Verdict(label, False, f"< {threshold:g}", "no samples: the query matched nothing", now))
        return
    worst = max(points, key=lambda p: p[1])
    where = f" ({', '.join(f'{k}={v}' for k, v in sorted(worst[2].items()))})" if worst[2] else ""
    observed = f"max {worst[1]:.4g} at {worst[0] - start:.1f}s{where}, {len(points)} points"
    run.current().check(Verdict(label, worst[1] < threshold, f"< {threshold:g}", observed, worst[0], worst[1]))


# -- before the run: checked against the loaded rules ---------------------------------------------


def alert_steps(planned: Sequence[PlannedScenario]) -> list[tuple[PlannedScenario, int, str, re.Match[str]]]:
    """Every alert step of the plan: (scenario, line, kind, match), kind one of fires|resolves|none|quiet|promql."""
    kinds = (("fires", FIRES), ("resolves", RESOLVES), ("none", NO_ALERT_FIRED), ("quiet", QUIET), ("promql", PROMQL))
    found = []
    for scenario in planned:
        for step in scenario.steps:
            for kind, pattern in kinds:
                match = re.fullmatch(pattern, step.text)
                if match is not None:
                    found.append((scenario, step.line, kind, match))
                    break
    return found


def check_alert_steps(planned: Sequence[PlannedScenario], monitoring: Monitoring | None,
                      promtool: Path | None = None) -> None:
    """Refuse, naming file:line, alert steps the run could not decide (see the module docstring)."""
    found = alert_steps(planned)
    exprs: list[tuple[PlannedScenario, int, str]] = []
    for scenario, line, kind, match in found:
        path = str(scenario.path)
        if monitoring is None:
            raise ConfigError(path, "this step reads alerts: run with --monitoring (or set monitoring.enabled: true "
                              "in the topology), or --prometheus-url URL", line)
        if kind in ("fires", "resolves"):
            name = match["name"]
            if name not in monitoring.names:
                known = ", ".join(sorted(monitoring.names)) or "none"
                raise ConfigError(path, f'unknown alert "{name}" (alerts in {monitoring.where()}: {known})', line)
            delay = monitoring.alert_for(name) + 2 * monitoring.scrape_interval_s
            if kind == "fires" and float(match["seconds"]) < delay:
                raise ConfigError(path, f'the alert "{name}" cannot fire within {match["seconds"]} s: its for: is '
                                  f"{monitoring.alert_for(name):g}s, plus up to {2 * monitoring.scrape_interval_s:g}s "
                                  "of scrape and evaluation", line)
        if kind == "promql":
            exprs.append((scenario, line, match["expr"]))
    if exprs and promtool is not None:
        _check_promql(exprs, promtool)


def _check_promql(exprs: list[tuple[PlannedScenario, int, str]], promtool: Path) -> None:
    """Parse the steps' PromQL with promtool (as recording rules), so a typo fails before the run."""
    from monitoring.rules import check_rules, load_rules

    for scenario, line, expr in exprs:
        with tempfile.TemporaryDirectory(prefix="harness-promql-") as tmp:
            path = Path(tmp) / "query.yml"
            path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": [{"record": "harness:q", "expr": expr}]}]}))
            try:
                check_rules(load_rules([path]), promtool)
            except ConfigError as exc:
                detail = str(exc).split(": ", 2)[-1]
                raise ConfigError(str(scenario.path), f"PromQL {expr!r} does not parse: {detail}", line) from None
