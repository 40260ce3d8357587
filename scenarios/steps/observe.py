"""Then-steps: assertions on the observed timeline and the load's request records.

Time-bounded assertions wait for their condition (polling the observer) until the bound, and fail
with what was expected, what was observed and when; the others judge the records gathered so far.
"Since the fault" means since the scenario's last fault injection; "since the start" since the load
started; "since the load rose" since the last load change; "since the breaker opened" since the
first breaker opening after the last fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.errors import HarnessError, MeasurementError

from .. import assertions, metrics
from ..assertions import Verdict
from ..context import RunContext
from ..preview import PreviewContext
from ..prometheus import parse, total
from ..vocabulary import PlanItem, PlanKind, Vocabulary

steps = Vocabulary()
_NUM = r"\d+(?:\.\d+)?"
_EVENT = r"(?P<event>fault|start|load rose|breaker opened|recovery)"


def _bounded(context: PreviewContext, seconds: str | None = None, **groups: str | None) -> PlanItem:
    """A check that may wait up to ``seconds`` (the plan shows the step's own text)."""
    return PlanItem(PlanKind.CHECK, "", seconds=float(seconds or 0))


def _wait(run: RunContext, evaluate: Callable[[float], Verdict], until: float) -> None:
    """Re-evaluate until it passes or the monotonic clock reaches ``until``; record the last verdict."""
    while True:
        now = time.monotonic()
        verdict = evaluate(now)
        if verdict.passed or now >= until:
            run.current().check(verdict)
            return
        run.check_load()
        time.sleep(0.05)


def _timeline(run: RunContext, dependency: str) -> list[tuple[float, str]]:
    return metrics.breaker_timeline(run.observer.samples(), run.observer.transitions(dependency), dependency)


def since(run: RunContext, event: str) -> float:
    scenario = run.current()
    if event != "breaker opened":
        return scenario.since(event)
    fault = scenario.since("fault")
    openings = [t for dep in run.system.topology.services
                for t, state in _timeline(run, dep) if state == "open" and t >= fault]
    if not openings:
        raise HarnessError("no breaker opened after the last fault")
    return min(openings)


@steps.then(rf'the mode becomes "(?P<mode>[\w-]+)" within (?P<seconds>{_NUM}) seconds?', preview=_bounded)
def mode_becomes(run: RunContext, mode: str, seconds: str) -> None:
    """the mode becomes "MODE" within N seconds (of the last action, or of the start)"""
    scenario = run.current()
    start, bound = scenario.marks.get("action", scenario.since("start")), float(seconds)
    _wait(run, lambda now: assertions.mode_becomes(run.observer.samples(), mode, start, bound, now), start + bound)


@steps.then(rf'the mode stays "(?P<mode>[\w-]+)" for (?P<seconds>{_NUM}) seconds?', preview=_bounded)
def mode_stays(run: RunContext, mode: str, seconds: str) -> None:
    """the mode stays "MODE" for N seconds (the last N seconds, waiting for them if needed)"""
    duration = float(seconds)
    start = max(time.monotonic() - duration, run.current().since("start"))
    run.hold(start + duration - time.monotonic(), run.check_load)
    run.current().check(assertions.mode_stays(run.observer.samples(), mode, start, start + duration))


@steps.then(rf'the "(?P<dependency>[\w-]+)" breaker (?P<state>opens|closes|half-opens) within (?P<seconds>{_NUM}) seconds?',
            preview=_bounded)
def breaker_within(run: RunContext, dependency: str, state: str, seconds: str) -> None:
    """the "DEPENDENCY" breaker opens|closes|half-opens within N seconds"""
    target = {"opens": "open", "closes": "closed", "half-opens": "half-open"}[state]
    scenario = run.current()
    start, bound = scenario.marks.get("action", scenario.since("start")), float(seconds)
    _wait(run, lambda now: assertions.breaker_reaches(_timeline(run, dependency), dependency, target, start, bound, now),
          start + bound)


@steps.then(r'the "(?P<dependency>[\w-]+)" breaker went through "(?P<sequence>[\w, -]+)"')
def breaker_sequence(run: RunContext, dependency: str, sequence: str) -> None:
    """the "DEPENDENCY" breaker went through "STATE, STATE, ..." (in order, since the scenario started)"""
    expected = [s.strip() for s in sequence.split(",") if s.strip()]
    start = run.current().started
    # The last state may still be on its way (a trial call in flight): give it a few seconds.
    _wait(run, lambda now: assertions.breaker_sequence(_timeline(run, dependency), dependency, expected, start),
          time.monotonic() + 5.0)


@steps.then(rf"at least (?P<percent>{_NUM})% of requests succeeded since the {_EVENT}")
def availability(run: RunContext, percent: str, event: str) -> None:
    """at least P% of requests succeeded since the fault|start|load rose|recovery"""
    records = run.records_now(since=since(run, event))
    run.current().check(assertions.availability_at_least(records, float(percent) / 100, f"since the {event}"))


@steps.then(rf"the p(?P<q>{_NUM}) latency since the {_EVENT} is below (?P<ms>{_NUM}) ms")
def latency(run: RunContext, q: str, event: str, ms: str) -> None:
    """the pQ latency since the EVENT is below N ms"""
    records = run.records_now(since=since(run, event))
    run.current().check(assertions.latency_below(records, float(q), float(ms) / 1000, f"since the {event}"))


@steps.then(rf"no request since the {_EVENT} took longer than (?P<ms>{_NUM}) ms")
def slowest(run: RunContext, event: str, ms: str) -> None:
    """no request since the EVENT took longer than N ms (the slowest answered one, or one still open)"""
    everything = run.records_now(since=run.current().started)
    records = [r for r in everything if r.t >= since(run, event)]
    run.current().check(assertions.slowest_below(records, float(ms) / 1000, f"since the {event}",
                                                 now=time.monotonic(), users_seen=everything))


@steps.then(rf"the p(?P<q>{_NUM}) latency rose by (?P<ms>{_NUM}) ms within (?P<tolerance>{_NUM})% since the fault")
def latency_rose(run: RunContext, q: str, ms: str, tolerance: str) -> None:
    """the pQ latency rose by N ms within T% since the fault (compared with before it)"""
    scenario = run.current()
    fault = scenario.since("fault")
    before = metrics.latency_percentiles(run.records_now(since=scenario.since("start"), until=fault), (float(q),))[float(q)]
    after = metrics.latency_percentiles(run.records_now(since=fault), (float(q),))[float(q)]
    expected, tol = float(ms) / 1000, float(tolerance) / 100
    name = f"p{q} latency rose by {ms} ms (±{tolerance}%)"
    if before is None or after is None:
        scenario.check(Verdict(name, False, f"{ms} ms more", "not enough requests before or after the fault"))
        return
    rise = after - before
    ok = expected * (1 - tol) <= rise <= expected * (1 + tol)
    observed = f"{rise * 1000:.0f} ms more ({before * 1000:.0f} -> {after * 1000:.0f} ms)"
    scenario.check(Verdict(name, ok, f"{float(ms) * (1 - tol):.0f}..{float(ms) * (1 + tol):.0f} ms more", observed,
                           time.monotonic(), rise))


@steps.then(r"no request returned a server error")
def no_server_errors(run: RunContext) -> None:
    """no request returned a server error"""
    run.current().check(assertions.no_server_errors(run.records_now(since=run.current().started)))


@steps.then(r'every "(?P<mode>[\w-]+)" answer carries a notice')
def notices(run: RunContext, mode: str) -> None:
    """every "MODE" answer carries a notice (waiting up to 10 s for the first such answer to arrive)"""
    scenario = run.current()
    for answer in scenario.answers:  # single questions asked by steps count too
        if answer.get("mode") == mode and not answer.get("notice"):
            scenario.check(Verdict(f'every "{mode}" answer carries a notice', False, "all with a notice",
                                   f"the answer to an asked question had none: {answer.get('message', '')[:80]!r}"))

    def evaluate(now: float) -> Verdict:
        records = run.records_now(since=scenario.started)
        return assertions.notices_present([r for r in records if r.mode == mode], mode)

    _wait(run, evaluate, time.monotonic() + 10.0)


@steps.then(rf"the p(?P<q>{_NUM}) time to first token since the {_EVENT} is below (?P<ms>{_NUM}) ms")
def time_to_first_token(run: RunContext, q: str, event: str, ms: str) -> None:
    """the pQ time to first token since the EVENT is below N ms (streamed answers that got a token)"""
    records = run.records_now(since=since(run, event))
    run.current().check(assertions.ttft_below(records, float(q), float(ms) / 1000, f"since the {event}"))


@steps.then(r"every interrupted streamed answer carries a notice")
def interrupted_notices(run: RunContext) -> None:
    """every interrupted streamed answer carries a notice (waiting up to 10 s for the first interruption)"""
    scenario = run.current()
    _wait(run, lambda now: assertions.interrupted_notices(run.records_now(since=scenario.started)),
          time.monotonic() + 10.0)


@steps.then(rf"no streamed answer hung(?: for more than (?P<seconds>{_NUM}) seconds?)?")
def no_stream_hung(run: RunContext, seconds: str | None = None) -> None:
    """no streamed answer hung [for more than N seconds] (ended by the client's timeout, or open that long)"""
    records = run.records_now(since=run.current().started)
    bound = float(seconds) if seconds else None
    run.current().check(assertions.no_stream_hung(records, bound, time.monotonic()))


@steps.then(rf"at least (?P<percent>{_NUM})% of streamed answers were complete since the {_EVENT}")
def streams_complete(run: RunContext, percent: str, event: str) -> None:
    """at least P% of streamed answers were complete since the EVENT (partial answers do not count)"""
    records = run.records_now(since=since(run, event))
    run.current().check(assertions.complete_at_least(records, float(percent) / 100, f"since the {event}"))


@steps.then(r'the answer is in "(?P<mode>[\w-]+)" mode(?P<cache>(?: from the cache|, not from the cache))?')
def answer_mode(run: RunContext, mode: str, cache: str | None) -> None:
    """the answer is in "MODE" mode [from the cache | , not from the cache]"""
    scenario = run.current()
    if not scenario.answers:
        raise HarnessError("no question was asked in this scenario")
    answer = scenario.answers[-1]
    want_cached = None if not cache else "not" not in cache
    ok = answer.get("mode") == mode and (want_cached is None or answer.get("cached") is want_cached)
    expected = f'mode "{mode}"' + ("" if want_cached is None else f", cached={want_cached}")
    observed = f'status {answer.get("status")}, mode "{answer.get("mode")}", cached={answer.get("cached")}'
    scenario.check(Verdict(f"the answer is in {mode} mode{cache or ''}", ok, expected, observed, time.monotonic()))


@steps.then(rf"the outage since the fault lasted between (?P<low>{_NUM}) and (?P<high>{_NUM}) seconds")
def outage(run: RunContext, low: str, high: str) -> None:
    """the outage since the fault lasted between A and B seconds (first failed to next good answer)"""
    fault, lo, hi = run.current().since("fault"), float(low), float(high)
    name = f"the outage lasted {low}..{high}s"

    def evaluate(now: float) -> Verdict:
        records = sorted(run.records_now(since=fault), key=lambda r: r.t)
        first_bad = next((r for r in records if not r.ok), None)
        if first_bad is None:
            return Verdict(name, False, f"{low}..{high}s", "no failed request: the outage was not seen", now)
        back = next((r for r in records if r.ok and r.t > first_bad.t), None)
        if back is None:
            return Verdict(name, False, f"{low}..{high}s", "no good answer after the outage yet", now)
        length = back.t - first_bad.t
        failed = sum(not r.ok for r in records if r.t < back.t)
        return Verdict(name, lo <= length <= hi, f"{low}..{high}s", f"{length:.2f}s ({failed} requests failed)",
                       back.t, length)

    _wait(run, evaluate, fault + hi + 5.0)


@steps.then(rf'retries to "(?P<dependency>[\w-]+)" stayed within (?P<percent>{_NUM})% of requests since the fault')
def retry_budget(run: RunContext, dependency: str, percent: str) -> None:
    """retries to "DEPENDENCY" stayed within P% of requests since the fault (from /metrics)"""
    scenario = run.current()
    before = scenario.metrics.get("fault")
    if before is None:
        raise MeasurementError(f"retries to {dependency!r} since the fault: the gateway's /metrics could not "
                               "be read when the fault was injected")
    after = parse(run.client.metrics())
    retries = total(after, "chatbot_retries_total", dependency=dependency) - total(before, "chatbot_retries_total", dependency=dependency)
    requests = total(after, "chatbot_requests_total") - total(before, "chatbot_requests_total")
    name = f'retries to "{dependency}" within {percent}% of requests'
    if requests <= 0:
        scenario.check(Verdict(name, False, f"<= {percent}%", "no requests counted in /metrics"))
        return
    share = retries / requests
    scenario.check(Verdict(name, share <= float(percent) / 100, f"<= {percent}%",
                           f"{share * 100:.1f}% ({retries:.0f} retries / {requests:.0f} requests)", time.monotonic(), share))
