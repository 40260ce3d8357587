"""Steps about the system itself: bring it to a known state, ask it single questions."""

from __future__ import annotations

import time
from typing import Any

from core.errors import InfrastructureError, SystemUnreachable

from ..context import RunContext
from ..vocabulary import Vocabulary

steps = Vocabulary()

_SETTLE_TIMEOUT_S = 90.0


def _status(run: RunContext) -> dict[str, Any] | None:
    sample = run.observer.sample_now()
    return None if sample.mode is None else {"mode": sample.mode, "breakers": sample.breakers}


@steps.given(r'the system is running in "(?P<mode>[\w-]+)" mode')
def system_running(run: RunContext, mode: str) -> None:
    """the system is running in "MODE" mode (else, after half the settle time, its services are restarted)

    A system that a previous scenario left stuck (a breaker that never closes, say) already failed
    that scenario; restarting its services keeps the damage from failing every scenario after it.
    """
    run.system.ensure_up()
    run.system.reset()
    half = _SETTLE_TIMEOUT_S / 2
    last = _settle(run, mode, half)
    if last is None:
        return
    run.journal.record("system_restarted", reason=f'not in "{mode}" with every breaker closed within {half:g}s',
                       last=last)
    run.system.restart_services()
    last = _settle(run, mode, half)
    if last is not None:
        raise InfrastructureError(f'the system did not settle in "{mode}" mode within {half:g}s, nor within '
                                  f"{half:g}s of a restart of its services (last: {last})")


def _settle(run: RunContext, mode: str, timeout_s: float) -> dict[str, Any] | None:
    """Wait for ``mode`` with every breaker closed and mark the start; else the last status seen."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = _status(run)
        if last and last["mode"] == mode and all(s == "closed" for s in last["breakers"].values()):
            run.current().mark("start")
            return None
        # Breakers recover on traffic (half-open trials): send a question while waiting.
        try:
            run.client.chat("settle")
        except SystemUnreachable:
            pass
        time.sleep(0.2)
    return last or {"mode": None}


@steps.when(r'the question "(?P<question>.+)" is asked')
def ask(run: RunContext, question: str) -> None:
    """the question "TEXT" is asked"""
    answer = run.client.chat(question, headers={"Accept-Language": "en"})
    body: dict[str, Any] = {"status": answer.status, **answer.body}
    run.current().answers.append(body)
    run.journal.record("question_asked", question=question, status=answer.status, mode=body.get("mode"),
                       cached=body.get("cached"))
