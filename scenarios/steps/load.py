"""Steps about load: start it, change it, and let scenario time pass under it."""

from __future__ import annotations

import time

from core.errors import InfrastructureError

from ..context import RunContext
from ..vocabulary import Vocabulary

steps = Vocabulary()


def _wait_first_records(run: RunContext, since: float, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run.records(since=since):
            return
        run.check_load()
        time.sleep(0.05)
    raise InfrastructureError(f"the load generator sent no request within {timeout_s:g}s")


@steps.given(r"a steady load of (?P<users>\d+) users?")
def steady_load(run: RunContext, users: str) -> None:
    """a steady load of N users"""
    started = time.monotonic()
    run.start_load(int(users))
    _wait_first_records(run, started)
    run.current().mark("start")


@steps.when(r"the load rises to (?P<users>\d+) users?")
def load_rises(run: RunContext, users: str) -> None:
    """the load rises to N users"""
    run.start_load(int(users))
    run.current().mark("load rose")
    run.current().mark("action")


@steps.when(r"(?P<seconds>\d+(?:\.\d+)?) seconds? pass(?:es)?")
def seconds_pass(run: RunContext, seconds: str) -> None:
    """N seconds pass"""
    run.hold(float(seconds), run.check_load)
