"""Every figure ``harness bench`` reports, built from measurements: names, references, goals.

Pure functions, so the table's wording and the goals are tested with known answers. A section a
system cannot give still yields its figures, each ``n/a`` with the reason, so ``bench.json`` has the
same keys on every system and CI can check that nothing went missing.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .alerting import AlertDelay, RunCost
from .capacity import ModeCapacity
from .figures import Figure, Goal, Op, not_applicable
from .harness_cost import SuiteRun
from .locust_load import LoadStats
from .profile import CI_BUDGET_S, ReferenceKnobs
from .resilience import DEGRADED_MODE, FAULTS, RECOVERY_SLACK_S, Case

HOP = "toxiproxy hop"
FAST_FAIL = "fast fail"
DEGRADE = "time to degrade"
RECOVER = "time to recover"
CAPACITY = "capacity"
COST = "harness cost"
SCALING = "scaling"
HTTP_PROXY = "http fault proxy"
ALERTING = "alerting"
ALERT_RATIO_GOAL = 1.2
MONITORING_COST_GOAL = 1.10

DEPENDENCIES = tuple(DEGRADED_MODE)
MODES = ("normal", "degraded-no-context", "degraded-cache-only", "static-only")
GENERATOR_WORKERS = (0, 2, 4)  # 0: one Locust process without a master
OBSERVER_GOAL_SHARE = 0.05


def hop(rows: Sequence[Mapping[str, Any]]) -> list[Figure]:
    """Added latency of one small keep-alive request through an idle proxy, against direct."""
    row = next(r for r in rows if r["connection"] == "keep-alive")
    added = Goal(Op.BELOW, 1.0, on_ratio=False, text="under 1 ms added")
    return [
        Figure("hop.p50", HOP, "p50 through the proxy", row["proxy_p50_ms"], "ms", row["direct_p50_ms"], "direct p50",
               note=f"{row['requests']} keep-alive requests each way"),
        Figure("hop.p99", HOP, "p99 through the proxy", row["proxy_p99_ms"], "ms", row["direct_p99_ms"], "direct p99"),
        Figure("hop.added_p50", HOP, "added p50", row["proxy_p50_ms"] - row["direct_p50_ms"], "ms", goal=added),
    ]


def http_proxy(result: Mapping[str, Any], modes: Sequence[ModeCapacity]) -> list[Figure]:
    """The HTTP fault proxy (``bench.http_proxy.measure``): added latency with no fault, its ceiling
    against the gateway's normal capacity in this run, and how exact its timing faults are."""
    lat, thr = result["latency"], result["throughput"]
    normal = next((m for m in modes if m.mode == "normal"), None)
    normal_rps = normal.best.ok_rps if normal and normal.best else None
    out = [
        Figure("http_proxy.p50", HTTP_PROXY, "p50 through the fault proxy, no fault", lat["proxy_p50_ms"], "ms",
               lat["direct_p50_ms"], "direct p50", note=f"{lat['requests']} keep-alive requests each way"),
        Figure("http_proxy.p99", HTTP_PROXY, "p99 through the fault proxy, no fault", lat["proxy_p99_ms"], "ms",
               lat["direct_p99_ms"], "direct p99"),
        Figure("http_proxy.added_p50", HTTP_PROXY, "added p50", lat["added_p50_ms"], "ms",
               goal=Goal(Op.BELOW, 1.0, on_ratio=False, text="under 1 ms added")),
        Figure("http_proxy.throughput", HTTP_PROXY, f"req/s through the fault proxy ({thr['concurrency']} workers)",
               thr["proxy"]["rps"], "req/s", normal_rps, "normal mode capacity",
               Goal(Op.AT_LEAST, 3.0, text="at least 3x the system's capacity"),
               note=f"trivial upstream; direct to it: {thr['direct']['rps']} req/s (aiohttp load generator)"),
    ]
    for kind in ("first_token_delay", "token_delay"):
        row = next(r for r in result["timing"] if r["fault"] == kind)
        requested, tolerance = row["requested_ms"], row["tolerance_ms"]
        # Only lateness can break the tolerance: a sleep never wakes early and the schedule never
        # runs ahead of the upstream, so the goal is on the worst ratio's upper side.
        out.append(Figure(f"http_proxy.{kind}", HTTP_PROXY, f"{kind} of {requested:g} ms: worst {row['measured']}",
                          row["worst_ms"], "ms", requested, "requested",
                          Goal(Op.AT_MOST, (requested + tolerance) / requested, text="within 10% or 20 ms"),
                          note=f"median {row['median_ms']} ms over {row['trials']} streams"))
    return out


def fast_fail(p99_s: Mapping[str, float | None], knobs: ReferenceKnobs) -> list[Figure]:
    goal = Goal(Op.BELOW, 0.01, text="under 1% of the timeout")
    out = []
    for dep in DEPENDENCIES:
        p99 = p99_s.get(dep)
        out.append(Figure(f"fast_fail.{dep}", FAST_FAIL, f"p99 of /chat while the {dep} breaker is open",
                          None if p99 is None else p99 * 1000, "ms", knobs.timeout_s(dep) * 1000,
                          f"{dep} per-attempt timeout", goal))
    return out


DEGRADE_SLACK = 1.05


def degrade(cases: Sequence[Case]) -> list[Figure]:
    # 5% over the bound is timer and scheduling slack, not a slow reaction: a timeout-driven degrade
    # cannot come before its timeout, and on two busy cores the event loop wakes a few ms late.
    goal = Goal(Op.AT_MOST, DEGRADE_SLACK, text=f"within the bound (ratio <= {DEGRADE_SLACK:g})")
    out: list[Figure] = []
    for case in cases:
        kind = "refused at once" if case.fault != "blackhole" else "per-attempt timeout"
        base = f"degrade.{case.fault}.{case.dependency}"
        out += [
            Figure(f"{base}.answer", DEGRADE, f"{case.fault} {case.dependency}: first {DEGRADED_MODE[case.dependency]} answer",
                   case.first_answer_s, "s", case.bound_s, f"bound: {kind} + 1 request", goal),
            Figure(f"{base}.breaker", DEGRADE, f"{case.fault} {case.dependency}: breaker open",
                   case.breaker_open_s, "s", case.breaker_bound_s, f"bound: {kind} + failures to open", goal),
        ]
    return out


def recover(cases: Sequence[Case], knobs: ReferenceKnobs, reset_label: str) -> list[Figure]:
    reset = knobs.reset_timeout_s
    goal = Goal(Op.AT_MOST, (reset + RECOVERY_SLACK_S) / reset, text=f"within reset_timeout + {RECOVERY_SLACK_S:g} s")
    return [
        Figure(f"recover.{c.fault}.{c.dependency}", RECOVER, f"{c.fault} {c.dependency} reverted: breaker closed, normal answer",
               c.recover_s, "s", reset, reset_label, goal,
               note=f"the breaker had been open {c.open_at_revert_s:.1f} s at the revert; "
                    f"open to closed: {c.open_at_revert_s + (c.recover_s or 0.0):.1f} s")
        for c in cases
    ]


def capacity(modes: Sequence[ModeCapacity], locust: LoadStats | None) -> list[Figure]:
    by_mode = {m.mode: m for m in modes}
    normal = by_mode.get("normal")
    normal_rps = normal.best.ok_rps if normal and normal.best else None
    out = []
    for mode in MODES:
        found = by_mode.get(mode)
        key = f"capacity.{mode}"
        name = f"{mode} answers/s at p99 < 1 s"
        if found is None:
            out.append(not_applicable(key, CAPACITY, name, "req/s", "this mode is only reached on the reference system"))
            continue
        rps = found.best.ok_rps if found.best else 0.0
        note = _levels(found)
        if mode == "normal":
            out.append(Figure(key, CAPACITY, name, rps, "req/s", note=note))
        else:
            out.append(Figure(key, CAPACITY, name, rps, "req/s", normal_rps, "normal mode",
                              Goal(Op.AT_LEAST, 1.0, text="more than normal (cheaper path)"), note=note))
    out.append(Figure("capacity.locust", CAPACITY, "Locust alone against a trivial /chat",
                      None if locust is None else locust.ok_rps, "req/s", normal_rps, "normal mode capacity",
                      Goal(Op.AT_LEAST, 3.0, text="at least 3x the system's capacity")))
    return out


def _levels(found: ModeCapacity) -> str:
    def p99(s: LoadStats) -> str:
        return "-" if s.p99_s is None else f"{s.p99_s * 1000:.0f} ms"

    tried = "; ".join(f"{s.users} users: {s.ok_rps:.0f}/s p99 {p99(s)}" for s in found.tried)
    return f"closed loop, no think time ({tried})"


def scaling(generator: Mapping[int, LoadStats]) -> list[Figure]:
    single = generator.get(0)
    reference = single.ok_rps if single else None
    out = []
    for workers in GENERATOR_WORKERS:
        stats = generator.get(workers)
        name = "1 Locust process" if workers == 0 else f"{workers} Locust workers (+ master)"
        out.append(Figure(f"scaling.workers_{max(workers, 1)}", SCALING, name + " against a trivial /chat",
                          None if stats is None else stats.ok_rps, "req/s", reference, "1 process"))
    return out


def cost(observer_share: float | None, samples: int, overhead_s: float | None, suite: SuiteRun | None,
         suite_label: str) -> list[Figure]:
    median = suite.median_scenario_s if suite else None
    return [
        Figure("cost.observer_cpu", COST, "observer CPU at 10 Hz", None if observer_share is None else observer_share * 100,
               "% of a core", goal=Goal(Op.BELOW, OBSERVER_GOAL_SHARE * 100, on_ratio=False, text="under 5% of one core"),
               note=f"{samples} samples"),
        Figure("cost.scenario_overhead", COST, "fixed overhead per scenario (setup, reset, teardown)", overhead_s, "s",
               median, "median scenario duration", Goal(Op.BELOW, 0.10, text="under 10% of a scenario")),
        Figure("cost.suite_wall", COST, f"wall time of {suite_label}", None if suite is None else suite.wall_s, "s",
               CI_BUDGET_S, "CI budget", Goal(Op.BELOW, 1.0, text="inside the 30 min CI budget"),
               note="" if suite is None else f"{len(suite.durations_s)} scenario(s), {suite.outcome}; {suite.source}"),
    ]


def reference_only(reason: str, knobs: ReferenceKnobs) -> list[Figure]:
    """The fast-fail, degrade and recover figures as n/a, keys and goals kept."""
    out = [not_applicable(f.key, f.group, f.name, f.unit, reason, f.goal) for f in fast_fail({}, knobs)]
    dummy = [Case(fault, dep, 0.0, None, None, None, ()) for dep in DEPENDENCIES for fault in FAULTS]
    out += [not_applicable(f.key, f.group, f.name, f.unit, reason, f.goal) for f in degrade(dummy)]
    out += [not_applicable(f.key, f.group, f.name, f.unit, reason, f.goal) for f in recover(dummy, knobs, "")]
    return out


def alerting(delays: Sequence[AlertDelay], costs: Sequence[RunCost]) -> list[Figure]:
    """Fault -> alert against what the rule promises (for: + scrape + evaluation), and monitoring's cost."""
    goal = Goal(Op.AT_MOST, ALERT_RATIO_GOAL, text=f"within {ALERT_RATIO_GOAL:g}x for: + scrape + evaluation")
    out = [Figure(f"alerting.{d.fault}.{d.target}", ALERTING, f"{d.fault} {d.target}: {d.alert} fired", d.delay_s, "s",
                  d.promised_s, "for: + scrape + evaluation", goal,
                  note="resolved " + ("never" if d.resolve_s is None else f"{d.resolve_s:.1f} s") + " after the revert")
           for d in delays]
    def median(monitoring: bool, pick: Callable[[RunCost], float | None]) -> float | None:
        values = [v for c in costs if c.monitoring is monitoring and (v := pick(c)) is not None]
        return statistics.median(values) if values else None

    pairs = sum(c.monitoring for c in costs)
    cost_goal = Goal(Op.AT_MOST, MONITORING_COST_GOAL, text=f"at most {MONITORING_COST_GOAL * 100 - 100:.0f}% more")
    walls = f"run wall time {median(True, lambda c: c.wall_s) or 0:.1f} s vs {median(False, lambda c: c.wall_s) or 0:.1f} s"
    out += [
        Figure("alerting.cost_scenario", ALERTING, "scenario wall time with monitoring",
               median(True, lambda c: c.scenario_s), "s", median(False, lambda c: c.scenario_s), "without monitoring",
               cost_goal, note=f"median of {pairs} run(s) each, alternating"),
        Figure("alerting.cost_cpu", ALERTING, "CPU of the whole run with monitoring (harness, services, load, Prometheus)",
               median(True, lambda c: c.cpu_s), "s", median(False, lambda c: c.cpu_s), "without monitoring", cost_goal,
               note=walls),
    ]
    return out
