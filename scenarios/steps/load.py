"""Steps about load: start it, change it, and let scenario time pass under it."""

from __future__ import annotations

import time

from core.errors import InfrastructureError

from ..context import RunContext
from ..load.spec import LoadSpec, streaming_users
from ..preview import PreviewContext
from ..vocabulary import PlanItem, PlanKind, Vocabulary

steps = Vocabulary()


def _wait_first_records(run: RunContext, since: float, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run.records(since=since):
            return
        run.check_load()
        time.sleep(0.05)
    raise InfrastructureError(f"the load generator sent no request within {timeout_s:g}s")


def _load_preview(context: PreviewContext, users: str | None = None, share: str | None = None,
                  **_: str | None) -> PlanItem:
    count = context.users_override or int(users or 0)
    stream_share = _stream_share(share)
    # The same checks the run makes: bounded users, a loopback (or allowed) target.
    topology = context.topology
    LoadSpec(host=f"http://{topology.host}:{topology.service(topology.entry).port}", users=count,
             allow_hosts=context.allow_hosts, stream_share=stream_share)
    if stream_share == 1.0:
        return PlanItem(PlanKind.LOAD, f"{count} users, all streaming (/chat/stream)")
    if stream_share:
        return PlanItem(PlanKind.LOAD, f"{count} users, {streaming_users(count, stream_share)} streaming (/chat/stream)")
    return PlanItem(PlanKind.LOAD, f"{count} users")


def _streaming_preview(context: PreviewContext, users: str | None = None, **_: str | None) -> PlanItem:
    return _load_preview(context, users, "all")


def _stream_share(share: str | None) -> float:
    """The share of streaming users a step names: "all", "half" or "P%"; 0 (None) for a /chat load."""
    if share is None:
        return 0.0
    if share in {"all", "half"}:
        return 1.0 if share == "all" else 0.5
    # A share above 100% is refused by LoadSpec with the step's line, like any bad load.
    return float(share.rstrip("%")) / 100


def _wait_preview(context: PreviewContext, seconds: str | None = None, **_: str | None) -> PlanItem:
    return PlanItem(PlanKind.WAIT, f"{float(seconds or 0):g} s under load", seconds=float(seconds or 0))


@steps.given(r"a steady load of (?P<users>\d+) users?", preview=_load_preview)
def steady_load(run: RunContext, users: str) -> None:
    """a steady load of N users"""
    _start(run, int(users), 0.0)


@steps.given(r"a steady load of (?P<users>\d+) streaming users?", preview=_streaming_preview)
def steady_streaming_load(run: RunContext, users: str) -> None:
    """a steady load of N streaming users (every user asks on /chat/stream)"""
    _start(run, int(users), 1.0)


@steps.given(r"a steady load of (?P<users>\d+) users?, (?P<share>half|\d+(?:\.\d+)?%) of them streaming",
             preview=_load_preview)
def steady_mixed_load(run: RunContext, users: str, share: str) -> None:
    """a steady load of N users, half|P% of them streaming (the others ask on /chat)"""
    _start(run, int(users), _stream_share(share))


def _start(run: RunContext, users: int, share: float) -> None:
    started = time.monotonic()
    run.start_load(users, stream_share=share)
    _wait_first_records(run, started)
    run.current().mark("start")


@steps.when(r"the load rises to (?P<users>\d+) users?", preview=_load_preview)
def load_rises(run: RunContext, users: str) -> None:
    """the load rises to N users"""
    run.start_load(int(users))
    run.current().mark("load rose")
    run.current().mark("action")


@steps.when(r"(?P<seconds>\d+(?:\.\d+)?) seconds? pass(?:es)?", preview=_wait_preview)
def seconds_pass(run: RunContext, seconds: str) -> None:
    """N seconds pass"""
    run.hold(float(seconds), run.check_load)
