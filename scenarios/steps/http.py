"""Steps that break HTTP answers: error statuses, rate limits, held requests, broken streams and bodies.

They go through the HTTP fault proxy (``faults.http``) on the target's edge and, like every fault
step, through the scenario's fault session (``faults.inject``), so each is reverted when the scenario
ends. A fault hits the dependency's API calls of the chatbot contract (docs/design.md) and nothing
else: the gateway's health probes pass untouched, so what the scenario measures is how the gateway
handles the answers its users' requests get, not a probe that happens to fail.

    llm        POST ^/v1/chat/completions$   (streamed and not)
    vector-db  POST ^/(cache/)?search$       (retrieval and the answer cache lookup)
    other      POST                          (any path)

Percentages become the rule's ``probability`` (rolled per matching request); the rule's seed comes
from the scenario's seed, so a replayed run hits the same requests in the same order.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from faults.http.specs import (
    CutAfter,
    Delay,
    ErrorEvent,
    FirstTokenDelay,
    HttpError,
    HttpFault,
    MalformedEvent,
    MalformedJson,
    RateLimit,
    TokenDelay,
    Truncate,
    WrongContentType,
)

from core.errors import HarnessError, MeasurementError
from faults.http.injector import HttpFaultHandle

from ..assertions import Verdict
from ..context import RunContext
from ..preview import PreviewContext, fault_preview
from ..prometheus import scrape, total
from ..vocabulary import PlanItem, PlanKind, Vocabulary
from .faults import inject

steps = Vocabulary()
_NAME = r'"(?P<target>[\w-]+)"'
_NUM = r"\d+(?:\.\d+)?"
_PERCENT = rf"(?P<percent>{_NUM})%"

# The dependency calls each role answers (the chatbot contract); anything else: every POST.
CALLS: dict[str, tuple[str, str]] = {
    "llm": ("POST", r"^/v1/chat/completions$"),
    "vector-db": ("POST", r"^/(cache/)?search$"),
}
OTHER_CALLS = ("POST", "")


def calls_of(target: str) -> tuple[str, str]:
    """(method, path regex) of the API calls of the service ``target`` names (an edge: its callee)."""
    return CALLS.get(target, CALLS.get(target.rsplit("-to-", 1)[-1], OTHER_CALLS))


def _on_calls(cls: type[HttpFault], target: str, percent: str | None = None, **params: Any) -> HttpFault:
    method, path = calls_of(target)
    probability = 1.0 if percent is None else float(percent) / 100
    return cls(target=target, method=method, path=path, probability=probability, **params)


def _seeded(run: RunContext, spec: HttpFault) -> HttpFault:
    """The spec with a seed drawn from the scenario's: stable across replays, distinct per fault."""
    scenario = run.current()
    key = f"{scenario.seed}/{len(scenario.faults.active)}/{spec.kind}/{spec.target}"
    return replace(spec, seed=zlib.crc32(key.encode()))


# -- the spec each step builds (the previews build the same ones) ---------------------------------------


def _retry_after_spec(target: str, percent: str, seconds: str | None = None, ms: str | None = None,
                      date: str | None = None) -> HttpFault:
    if ms is not None:
        return _on_calls(RateLimit, target, percent, retry_after_s=float(ms) / 1000, retry_after_format="ms")
    if date is not None:
        return _on_calls(RateLimit, target, percent, retry_after_s=float(date), retry_after_format="date")
    return _on_calls(RateLimit, target, percent, retry_after_s=float(seconds or 0), retry_after_format="seconds")


def _rate_limit_spec(target: str, requests: str, window: str | None = None, ms: str | None = None) -> HttpFault:
    return _on_calls(RateLimit, target, requests=int(requests), window_s=float(window or 1),
                     retry_after_format="ms" if ms else "seconds")


def _status_spec(target: str, status: str, percent: str) -> HttpFault:
    return _on_calls(HttpError, target, percent, status=int(status))


def _question_spec(target: str, status: str, pattern: str, percent: str | None = None) -> HttpFault:
    return replace(_on_calls(HttpError, target, percent, status=int(status)), body=pattern)


def _hold_spec(phase: str) -> Callable[..., HttpFault]:
    def build(target: str, seconds: str) -> HttpFault:
        return _on_calls(Delay, target, seconds=float(seconds), phase=phase)

    return build


def _stall_spec(target: str, seconds: str, percent: str | None = None) -> HttpFault:
    return _on_calls(FirstTokenDelay, target, percent, seconds=float(seconds))


def _slow_spec(target: str, ms: str, percent: str | None = None) -> HttpFault:
    return _on_calls(TokenDelay, target, percent, seconds=float(ms) / 1000)


def _cut_spec(target: str, events: str, percent: str | None = None) -> HttpFault:
    return _on_calls(CutAfter, target, percent, events=int(events))


def _error_event_spec(target: str, after: str, percent: str | None = None) -> HttpFault:
    return _on_calls(ErrorEvent, target, percent, after=int(after))


def _malformed_event_spec(target: str, at: str, percent: str | None = None) -> HttpFault:
    return _on_calls(MalformedEvent, target, percent, at=int(at))


def _truncate_spec(target: str, size: str, percent: str | None = None) -> HttpFault:
    return _on_calls(Truncate, target, percent, bytes=int(size))


def _malformed_json_spec(target: str, percent: str | None = None) -> HttpFault:
    return _on_calls(MalformedJson, target, percent)


def _content_type_spec(target: str, percent: str | None = None) -> HttpFault:
    return _on_calls(WrongContentType, target, percent)


def _removed_preview(context: PreviewContext, target: str | None = None, **_: str | None) -> PlanItem:
    return PlanItem(PlanKind.REVERT, f"remove the HTTP faults on {context.topology.canonical(str(target))}")


# -- steps ------------------------------------------------------------------------------------------------


@steps.when(rf"{_NAME} answers 429 with (?:Retry-After (?P<seconds>{_NUM}) s|retry-after-ms (?P<ms>\d+)"
            rf"|an HTTP-date Retry-After of (?P<date>{_NUM}) s) for {_PERCENT} of requests",
            preview=fault_preview(_retry_after_spec))
def retry_after(run: RunContext, target: str, percent: str, seconds: str | None, ms: str | None,
                date: str | None) -> None:
    """"SERVICE" answers 429 with Retry-After N s | retry-after-ms N | an HTTP-date Retry-After of N s for P% of requests"""
    inject(run, _seeded(run, _retry_after_spec(target, percent, seconds, ms, date)))


@steps.when(rf"{_NAME} is rate limited to (?P<requests>\d+) requests per (?:second|(?P<window>{_NUM}) seconds)"
            r"(?P<ms> with Retry-After in ms)?", preview=fault_preview(_rate_limit_spec))
def rate_limited(run: RunContext, target: str, requests: str, window: str | None, ms: str | None) -> None:
    """"SERVICE" is rate limited to N requests per second|N seconds [with Retry-After in ms] (429 beyond it)"""
    inject(run, _seeded(run, _rate_limit_spec(target, requests, window, ms)))


@steps.when(rf"{_NAME} (?:answers|fails with) (?P<status>\d{{3}}) for {_PERCENT} of requests",
            preview=fault_preview(_status_spec))
def status(run: RunContext, target: str, status: str, percent: str) -> None:
    """"SERVICE" answers|fails with STATUS for P% of requests (at once, the service is never called)"""
    inject(run, _seeded(run, _status_spec(target, status, percent)))


@steps.when(rf'{_NAME} fails with (?P<status>\d{{3}}) for (?:{_PERCENT} of )?questions matching "(?P<pattern>[^"]+)"',
            preview=fault_preview(_question_spec))
def questions(run: RunContext, target: str, status: str, percent: str | None, pattern: str) -> None:
    """"SERVICE" fails with STATUS for [P% of] questions matching "REGEX" (searched in the request body)"""
    inject(run, _seeded(run, _question_spec(target, status, pattern, percent)))


@steps.when(rf"{_NAME} holds each request for (?P<seconds>{_NUM}) s", preview=fault_preview(_hold_spec("request")))
def hold_requests(run: RunContext, target: str, seconds: str) -> None:
    """"SERVICE" holds each request for N s (before the service sees it)"""
    inject(run, _seeded(run, _hold_spec("request")(target, seconds)))


@steps.when(rf"answers from {_NAME} are held (?P<seconds>{_NUM}) s", preview=fault_preview(_hold_spec("response")))
def hold_answers(run: RunContext, target: str, seconds: str) -> None:
    """answers from "SERVICE" are held N s (after the service answered)"""
    inject(run, _seeded(run, _hold_spec("response")(target, seconds)))


_SHARE = rf"(?: for {_PERCENT} of them)?"  # "..., for 30% of them": the share of matching answers hit


@steps.when(rf"streamed answers from {_NAME} stall (?P<seconds>{_NUM}) s before the first token{_SHARE}",
            preview=fault_preview(_stall_spec))
def stall(run: RunContext, target: str, seconds: str, percent: str | None = None) -> None:
    """streamed answers from "SERVICE" stall N s before the first token [for P% of them]"""
    inject(run, _seeded(run, _stall_spec(target, seconds, percent)))


@steps.when(rf"streamed answers from {_NAME} slow to (?P<ms>{_NUM}) ms per token{_SHARE}",
            preview=fault_preview(_slow_spec))
def slow_tokens(run: RunContext, target: str, ms: str, percent: str | None = None) -> None:
    """streamed answers from "SERVICE" slow to N ms per token [for P% of them]"""
    inject(run, _seeded(run, _slow_spec(target, ms, percent)))


@steps.when(rf"streamed answers from {_NAME} are cut after (?P<events>\d+) events?{_SHARE}",
            preview=fault_preview(_cut_spec))
def cut_stream(run: RunContext, target: str, events: str, percent: str | None = None) -> None:
    """streamed answers from "SERVICE" are cut after N events [for P% of them] (the connection aborted mid-stream)"""
    inject(run, _seeded(run, _cut_spec(target, events, percent)))


@steps.when(rf"streamed answers from {_NAME} carry an error event after (?P<after>\d+) events?{_SHARE}",
            preview=fault_preview(_error_event_spec))
def error_event(run: RunContext, target: str, after: str, percent: str | None = None) -> None:
    """streamed answers from "SERVICE" carry an error event after N events [for P% of them] (overloaded_error, then the end)"""
    inject(run, _seeded(run, _error_event_spec(target, after, percent)))


@steps.when(rf"streamed answers from {_NAME} carry a malformed event at (?P<at>\d+){_SHARE}",
            preview=fault_preview(_malformed_event_spec))
def malformed_event(run: RunContext, target: str, at: str, percent: str | None = None) -> None:
    """streamed answers from "SERVICE" carry a malformed event at N [for P% of them] (event N, from 0, is not JSON)"""
    inject(run, _seeded(run, _malformed_event_spec(target, at, percent)))


@steps.when(rf"answers from {_NAME} are truncated after (?P<size>\d+) bytes{_SHARE}",
            preview=fault_preview(_truncate_spec))
def truncated(run: RunContext, target: str, size: str, percent: str | None = None) -> None:
    """answers from "SERVICE" are truncated after N bytes [for P% of them] (JSON answers; the connection then aborts)"""
    inject(run, _seeded(run, _truncate_spec(target, size, percent)))


@steps.when(rf"answers from {_NAME} carry malformed JSON{_SHARE}", preview=fault_preview(_malformed_json_spec))
def malformed_json(run: RunContext, target: str, percent: str | None = None) -> None:
    """answers from "SERVICE" carry malformed JSON [for P% of them] (status and headers kept)"""
    inject(run, _seeded(run, _malformed_json_spec(target, percent)))


@steps.when(rf"answers from {_NAME} come with the wrong content type{_SHARE}",
            preview=fault_preview(_content_type_spec))
def wrong_content_type(run: RunContext, target: str, percent: str | None = None) -> None:
    """answers from "SERVICE" come with the wrong content type [for P% of them] (200 with an HTML error page)"""
    inject(run, _seeded(run, _content_type_spec(target, percent)))


@steps.when(rf"the HTTP faults on {_NAME} are removed", preview=_removed_preview)
def remove_http_faults(run: RunContext, target: str) -> None:
    """the HTTP faults on "SERVICE" are removed (the other faults stay)"""
    scenario = run.current()
    name = run.system.topology.canonical(target)
    routes = {e.name for e in run.system.topology.edges if name in (e.name, e.target)}  # a service or an edge
    started = time.monotonic()
    for handle in reversed(scenario.faults.active):
        if isinstance(handle, HttpFaultHandle) and handle.route in routes:
            scenario.faults.revert(handle)
    scenario.mark("recovery", started)
    scenario.mark("action", started)


# -- what a dependency received, counted outside the system under test ---------------------------------


@steps.then(rf'{_NAME} received at most (?P<ratio>{_NUM}) calls per request since the fault')
def calls_per_request(run: RunContext, target: str, ratio: str) -> None:
    """"SERVICE" received at most R calls per request since the fault (counted by the HTTP fault proxy)

    The gateway's own retry counter says what it meant to do; a client that retries around its
    instrumentation (or a user's system with none) hammers a rate-limited provider unseen. The fault
    proxy sits on the provider's side of the edge, so its count is what the provider received."""
    scenario = run.current()
    url = run.system.calls_metrics_url()
    name = f'"{target}" received at most {ratio} calls per request'
    if url is None:
        raise HarnessError(f"{name}: no edge of this topology goes through the HTTP fault proxy")
    service = run.system.topology.canonical(target)
    routes = [e.name for e in run.system.topology.edges
              if service in (e.name, e.target) and e.http_proxy_port is not None]
    if not routes:
        raise HarnessError(f"{name}: no HTTP route into {target!r}")
    before = scenario.metrics.get("fault-calls")
    if before is None:
        raise MeasurementError(f"{name}: {url} could not be read when the fault was injected")
    after = scrape(url)
    calls = sum(total(after, _CALLS_METRIC, route=r) - total(before, _CALLS_METRIC, route=r) for r in routes)
    requests = len(run.records_now(since=scenario.since("fault")))
    if requests == 0:
        scenario.check(Verdict(name, False, f"<= {ratio} calls per request", "no requests since the fault"))
        return
    share = calls / requests
    scenario.check(Verdict(name, share <= float(ratio), f"<= {ratio} calls per request",
                           f"{share:.2f} ({calls:.0f} calls / {requests} requests)", time.monotonic(), share))


_CALLS_METRIC = "http_fault_proxy_requests_total"
