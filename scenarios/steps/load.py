"""Steps about load: start it, change it, and let scenario time pass under it."""

from __future__ import annotations

import time

from core.errors import InfrastructureError

from ..context import RunContext
from ..load import LoadSpec
from ..preview import PreviewContext
from ..vocabulary import PlanItem, Vocabulary

steps = Vocabulary()


def _wait_first_records(run: RunContext, since: float, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run.records(since=since):
            return
        run.check_load()
        time.sleep(0.05)
    raise InfrastructureError(f"the load generator sent no request within {timeout_s:g}s")


def _load_preview(context: PreviewContext, users: str | None = None, **_: str | None) -> PlanItem:
    count = context.users_override or int(users or 0)
    # The same checks the run makes: bounded users, a loopback (or allowed) target.
    topology = context.topology
    LoadSpec(host=f"http://{topology.host}:{topology.service(topology.entry).port}", users=count,
             allow_hosts=context.allow_hosts)
    return PlanItem("load", f"{count} users")


def _wait_preview(context: PreviewContext, seconds: str | None = None, **_: str | None) -> PlanItem:
    return PlanItem("wait", f"{float(seconds or 0):g} s under load", seconds=float(seconds or 0))


@steps.given(r"a steady load of (?P<users>\d+) users?", preview=_load_preview)
def steady_load(run: RunContext, users: str) -> None:
    """a steady load of N users"""
    started = time.monotonic()
    run.start_load(int(users))
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
